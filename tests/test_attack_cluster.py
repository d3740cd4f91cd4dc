"""Another local user against ``--cluster``: a Dask client unpickles what answers it,
so a scheduler another user listens with on this machine (the user's own not running)
would run their code in imgconv. Such a listener is refused before anything is sent."""

import socket
import subprocess
import sys

import pytest

pytest.importorskip("distributed")

from helpers import NOBODY, needs_root

from imgconv import cluster
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
    """What `cluster.ClusterExecutor` uses of a ``distributed.Client``, one worker, every task failing."""

    class Future:
        def result(self):
            raise OSError("the worker's disk failed")

        def add_done_callback(self, callback):
            callback(self)

    def nthreads(self):
        return {"tcp://127.0.0.1:1": 1}

    def run(self, function, *args):
        return {"tcp://127.0.0.1:1": None}

    def submit(self, *args, **options):
        return self.Future()


def test_a_name_failing_on_the_cluster_is_quoted():
    from imgconv.batch import Task, run_task

    task = Task("in/a\x1b]0;title\x07.png", "out/a.png", "out")
    result = cluster.ClusterExecutor(FailingClient()).submit(run_task, task, None).result()
    assert result.error.startswith("'in/a'$'\\033'']0;title'$'\\a''.png': failed on the cluster: OSError: "), result
