"""Another local user against ``--cluster``: a Dask client unpickles what answers it,
so a scheduler another user listens with on this machine (the user's own not running)
would run their code in imgconv. Such a listener is refused before anything is sent."""

import socket
import subprocess
import sys

import pytest

pytest.importorskip("distributed")

from helpers import NOBODY, needs_root

from imgconv import cluster, peers
from imgconv.errors import ImgconvError

# Listens as whoever runs it, prints its port, and holds the socket until told to stop.
LISTENER = """
import socket, sys
server = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
server.bind((sys.argv[1], 0))
server.listen()
print(server.getsockname()[1], flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("bound, address", [("127.0.0.1", "tcp://127.0.0.1:{}"), ("0.0.0.0", "tcp://localhost:{}"),
                                            ("::", "tcp://127.0.0.1:{}")])
def test_a_scheduler_address_another_user_listens_on_is_refused_before_connecting(bound, address):
    needs_root()
    process = subprocess.Popen([*NOBODY, sys.executable, "-c", LISTENER, bound], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        address = address.format(int(process.stdout.readline()))
        with pytest.raises(ImgconvError) as refused:
            cluster.connect(address, timeout=5)
    finally:
        process.communicate("", timeout=30)
    assert str(refused.value) == (f"--cluster {address}: the scheduler listening there was started by another user "
                                  f"(nobody, uid 65534), who could run code in imgconv through it; start your own, "
                                  f"or use a tls:// scheduler")


def test_this_users_own_listener_passes_the_check():
    import distributed

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        cluster.check_listener(distributed, f"tcp://127.0.0.1:{server.getsockname()[1]}")


class FailingClient:
    """What `cluster.ClusterExecutor` uses of a ``distributed.Client``, one worker, on
    another machine (nothing here can check it), every task failing."""

    scheduler = type("Scheduler", (), {"address": "tcp://192.0.2.2:8786"})

    class Future:
        status = "error"

        def result(self):
            raise OSError("the worker's disk failed")

        def add_done_callback(self, callback):
            callback(self)

    def nthreads(self):
        return {"tcp://192.0.2.1:1": 1}

    def run(self, function, *args):
        return {"tcp://192.0.2.1:1": None}

    def run_on_scheduler(self, function):
        return {}

    def submit(self, *args, **options):
        return self.Future()


def test_a_name_failing_on_the_cluster_is_quoted():
    from imgconv.batch import Task, run_task

    task = Task("in/a\x1b]0;title\x07.png", "out/a.png", "out")
    result = cluster.ClusterExecutor(FailingClient()).submit(run_task, task, None).result()
    assert result.error.startswith("'in/a'$'\\033'']0;title'$'\\a''.png': failed on the cluster: OSError: "), result


def no_streams():
    return {}


def test_a_worker_gone_from_its_address_and_its_connection_is_no_fault():
    """A killed worker stays listed until the scheduler notices: nothing listens at its
    address, and its connection to the scheduler is closed. It can send nothing more,
    and the batch goes on without it (a forged address is told by the connection, which
    the workers run as another user in test_cluster.py check)."""
    import distributed

    with socket.socket() as probe:  # ports nothing listens on, nor connects from
        probe.bind(("127.0.0.1", 0))
        worker = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
        with socket.socket() as gone:
            gone.bind(("127.0.0.1", 0))
            connection = f"tcp://127.0.0.1:{gone.getsockname()[1]}"
    peers.check_workers(distributed, "tcp://127.0.0.1:8786", [worker], no_streams)
    peers.check_workers(distributed, "tcp://127.0.0.1:8786", [worker], lambda: {worker: connection})


def test_a_worker_of_a_loopback_scheduler_claiming_another_machine_is_refused_and_elsewhere_unchecked():
    import distributed

    worker = "tcp://192.0.2.1:40000"  # TEST-NET-1: never this machine's
    with pytest.raises(ImgconvError) as refused:
        peers.check_workers(distributed, "tcp://localhost:8786", [worker], no_streams)
    assert f"the worker at {worker} claims an address of another machine" in str(refused.value)
    # A scheduler other machines can reach may have workers there: nothing here says who runs them.
    peers.check_workers(distributed, "tcp://192.0.2.2:8786", [worker], no_streams)


class HoldingClient:
    """What `cluster.ClusterExecutor` uses of a ``distributed.Client``: one worker of
    the user's own at first, then every result held by a worker at ``holder``."""

    class Future:
        def __init__(self):
            self.key, self.status, self.taken, self.callbacks = object(), "pending", False, []

        def result(self):
            self.taken = True  # where Dask would unpickle the result
            return None

        def add_done_callback(self, callback):
            self.callbacks.append(callback)

        def finish(self, status):
            self.status = status
            for callback in self.callbacks:
                callback(self)

        def cancel(self):
            self.finish("cancelled")

    def __init__(self, own, holder):
        self.own, self.holder, self.sent = own, holder, []
        self.scheduler = type("Scheduler", (), {"address": "tcp://127.0.0.1:8786"})

    def nthreads(self):
        return {self.own: 1}

    def run(self, function, *args):
        return {self.own: None}

    def run_on_scheduler(self, function):
        return {}

    def submit(self, *args, **options):
        self.sent.append(self.Future())
        return self.sent[-1]

    def who_has(self, futures):
        return {future.key: [self.holder] for future in futures}


def test_a_result_held_by_a_worker_that_fails_the_check_stops_the_batch_before_it_is_taken():
    from imgconv.batch import Task, run_task

    with socket.create_server(("127.0.0.1", 0)) as own:
        holder = "tcp://192.0.2.1:8788"  # another machine's (TEST-NET-1), for a loopback scheduler
        client = HoldingClient(f"tcp://127.0.0.1:{own.getsockname()[1]}", holder)
        executor = cluster.ClusterExecutor(client)
        futures = [executor.submit(run_task, Task(f"in/{n}.png", f"out/{n}.png", "out"), None) for n in "ab"]
        client.sent[0].finish("finished")
    refusal = futures[0].exception()
    assert isinstance(refusal, ImgconvError) and f"the worker at {holder} claims an address of another machine" \
        in str(refusal)
    assert not any(remote.taken for remote in client.sent)
    assert client.sent[1].status == "cancelled" and futures[1].exception() is refusal
    with pytest.raises(ImgconvError):
        executor.submit(run_task, Task("in/c.png", "out/c.png", "out"), None)
    assert len(client.sent) == 2
