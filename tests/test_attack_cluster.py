"""Another local user against ``--cluster``: a Dask client unpickles what answers it,
so a scheduler another user listens with on this machine (the user's own not running)
would run their code in imgconv. Such a listener is refused before anything is sent."""

import collections
import socket
import subprocess
import sys
import types

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

    def run_on_scheduler(self, function, *args, **kwargs):
        return {}

    def submit(self, *args, **options):
        return self.Future()


def test_a_name_failing_on_the_cluster_is_quoted():
    from imgconv.batch import Task, run_task

    task = Task("in/a\x1b]0;title\x07.png", "out/a.png", "out")
    result = cluster.ClusterExecutor(FailingClient()).submit(run_task, task, None).result()
    assert result.error.startswith("'in/a'$'\\033'']0;title'$'\\a''.png': failed on the cluster: OSError: "), result


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
    peers.check_workers(distributed, "tcp://127.0.0.1:8786", lambda: {worker: None})
    peers.check_workers(distributed, "tcp://127.0.0.1:8786", lambda: {worker: connection})


def test_a_worker_of_a_loopback_scheduler_claiming_another_machine_is_refused_and_elsewhere_unchecked():
    import distributed

    worker = "tcp://192.0.2.1:40000"  # TEST-NET-1: never this machine's
    with pytest.raises(ImgconvError) as refused:
        peers.check_workers(distributed, "tcp://localhost:8786", lambda: {worker: None})
    assert f"the worker at {worker} claims an address of another machine" in str(refused.value)
    # A scheduler other machines can reach may have workers there: nothing here says who runs them.
    peers.check_workers(distributed, "tcp://192.0.2.2:8786", lambda: {worker: None})


WorkerState = collections.namedtuple("WorkerState", "address")  # hashable, as Dask's is


class Scheduler:
    """What `peers.CONNECTIONS` reads of a ``distributed.Scheduler``: its workers, the
    tasks and who holds each, and each worker's connection (its ``BatchedSend``)."""

    def __init__(self):
        self.workers, self.tasks, self.stream_comms = {}, {}, {}

    def join(self, worker, connection=None):
        """A worker registered at ``worker``, connected from ``connection`` (None: its
        connection closed)."""
        self.workers[worker] = WorkerState(worker)
        comm = connection and types.SimpleNamespace(peer_address=connection)
        self.stream_comms[worker] = types.SimpleNamespace(comm=comm)

    def hold(self, key, worker):
        self.tasks[key] = types.SimpleNamespace(who_has={self.workers[worker]})


class HoldingClient:
    """What `cluster.ClusterExecutor` uses of a ``distributed.Client``, its scheduler a
    `Scheduler` that `run_on_scheduler` runs functions on, as Dask's does; ``asked``
    lists the keyword arguments of each such call, ``failure`` what it raises instead."""

    class Future:
        def __init__(self, key, task):
            self.key, self.task, self.status, self.taken, self.callbacks = key, task, "pending", False, []

        def result(self):
            from imgconv.batch import Result

            self.taken = True  # where Dask would unpickle the result
            return Result(self.task.source, self.task.dest, "ok")

        def add_done_callback(self, callback):
            self.callbacks.append(callback)

        def finish(self, status):
            self.status = status
            for callback in self.callbacks:
                callback(self)

        def cancel(self):
            self.finish("cancelled")

    def __init__(self):
        self.state, self.sent, self.asked, self.failure = Scheduler(), [], [], None
        self.scheduler = types.SimpleNamespace(address="tcp://127.0.0.1:8786")

    def nthreads(self):
        return dict.fromkeys(self.state.workers, 1)

    def run(self, function, *args):
        return dict.fromkeys(self.state.workers)

    def run_on_scheduler(self, function, *args, **kwargs):
        self.asked.append(kwargs)
        if self.failure:
            raise self.failure
        return function(*args, dask_scheduler=self.state, **kwargs)

    def submit(self, fn, task, *args, **options):
        self.sent.append(self.Future(f"run_task-{len(self.sent)}", task))
        return self.sent[-1]


def test_a_result_held_by_a_worker_that_fails_the_check_stops_the_batch_before_it_is_taken():
    from imgconv.batch import Task, run_task

    with socket.create_server(("127.0.0.1", 0)) as own, socket.create_connection(own.getsockname()) as stream:
        client = HoldingClient()
        client.state.join(f"tcp://127.0.0.1:{own.getsockname()[1]}", f"tcp://127.0.0.1:{stream.getsockname()[1]}")
        executor = cluster.ClusterExecutor(client)
        futures = [executor.submit(run_task, Task(f"in/{n}.png", f"out/{n}.png", "out"), None) for n in "ab"]
        holder = "tcp://192.0.2.1:8788"  # another machine's (TEST-NET-1), for a loopback scheduler
        client.state.join(holder)  # since the batch began
        client.state.hold(client.sent[0].key, holder)
        client.sent[0].finish("finished")
    refusal = futures[0].exception()
    assert isinstance(refusal, ImgconvError) and f"the worker at {holder} claims an address of another machine" \
        in str(refusal)
    assert not any(remote.taken for remote in client.sent)
    assert client.sent[1].status == "cancelled" and futures[1].exception() is refusal
    with pytest.raises(ImgconvError):
        executor.submit(run_task, Task("in/c.png", "out/c.png", "out"), None)
    assert len(client.sent) == 2
    # One question to the scheduler for the whole check of a result: every worker's
    # before the filter was shown to them, then the holders of the result.
    assert client.asked == [{"keys": None}, {"keys": ["run_task-0"]}]


def test_only_the_workers_holding_a_result_are_checked_before_it_is_taken():
    """A refused worker holding nothing of this result does not stop it from being
    taken (it stops the batch once it holds one); a holder whose address and
    connection are both gone (killed) is not a fault."""
    from imgconv.batch import Task, run_task

    with socket.create_server(("127.0.0.1", 0)) as own, socket.socket() as gone:
        gone.bind(("127.0.0.1", 0))  # a port nothing listens on, nor connects from
        client = HoldingClient()
        client.state.join(f"tcp://127.0.0.1:{own.getsockname()[1]}")
        executor = cluster.ClusterExecutor(client)
        futures = [executor.submit(run_task, Task(f"in/{n}.png", f"out/{n}.png", "out"), None) for n in "abc"]
        killed, claiming = f"tcp://127.0.0.1:{gone.getsockname()[1]}", "tcp://192.0.2.1:8788"
        client.state.join(killed, killed)
        client.state.join(claiming)
        client.state.hold(client.sent[0].key, f"tcp://127.0.0.1:{own.getsockname()[1]}")
        client.state.hold(client.sent[1].key, killed)
        client.state.hold(client.sent[2].key, claiming)
        for remote in client.sent:
            remote.finish("finished")
    assert [future.result().input for future in futures[:2]] == ["in/a.png", "in/b.png"]
    assert "the worker at tcp://192.0.2.1:8788 claims an address" in str(futures[2].exception())
    assert [remote.taken for remote in client.sent] == [True, True, False]
    assert client.asked == [{"keys": None}, *({"keys": [remote.key]} for remote in client.sent)]


def test_a_scheduler_that_cannot_say_who_holds_a_result_stops_the_batch_in_one_line():
    from imgconv.batch import Task, run_task

    with socket.create_server(("127.0.0.1", 0)) as own:
        client = HoldingClient()
        client.state.join(f"tcp://127.0.0.1:{own.getsockname()[1]}")
        executor = cluster.ClusterExecutor(client)
        future = executor.submit(run_task, Task("in/a.png", "out/a.png", "out"), None)
        client.failure = OSError("Timed out trying to connect to tcp://127.0.0.1:8786 after 30 s")
        client.sent[0].finish("finished")
    message = str(future.exception())
    assert message == ("--cluster tcp://127.0.0.1:8786: the scheduler cannot say where its workers are connected "
                       "from (Timed out trying to connect to tcp://127.0.0.1:8786 after 30 s), so they cannot be "
                       "checked; use a tls:// scheduler"), message
    assert not client.sent[0].taken


def test_the_scheduler_is_asked_by_value_and_need_not_have_imgconv(monkeypatch):
    """Dask pickles what `run_on_scheduler` runs with cloudpickle: a function of an
    importable module goes by reference, which a scheduler without imgconv cannot load."""
    import cloudpickle

    payload = cloudpickle.dumps(peers.CONNECTIONS)
    for name in [name for name in sys.modules if name.split(".")[0] == "imgconv"]:
        monkeypatch.setitem(sys.modules, name, None)  # import imgconv... raises ImportError
    connections = cloudpickle.loads(payload)
    state = Scheduler()
    state.join("tcp://127.0.0.1:1", "tcp://127.0.0.1:2")
    state.join("tcp://127.0.0.1:3")
    state.hold("k", "tcp://127.0.0.1:3")
    assert connections(dask_scheduler=state) == {"tcp://127.0.0.1:1": "tcp://127.0.0.1:2", "tcp://127.0.0.1:3": None}
    assert connections(dask_scheduler=state, keys=["k", "released"]) == {"tcp://127.0.0.1:3": None}
