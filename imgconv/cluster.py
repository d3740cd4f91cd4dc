"""Batches on a running Dask cluster (``--cluster ADDRESS``, ``IMGCONV_CLUSTER``).

`connect` reaches the scheduler (refusing, in one line, an address where no scheduler
has answered within `CONNECT_TIMEOUT` seconds, a peer that answers but not as a Dask
scheduler, a cluster without workers, and workers whose imgconv is not this one's),
and `ClusterExecutor` runs `imgconv.batch.run_task` calls there for
`imgconv.batch.run_batch`::

    client = imgconv.cluster.connect("tcp://10.0.0.5:8786")
    executor = imgconv.cluster.ClusterExecutor(client)
    results = imgconv.batch.run_batch(tasks, filt, jobs=executor.threads, in_flight=executor.threads,
                                      executor=executor)

The cluster's workers must see the same files at the same absolute paths (a shared
filesystem): every path is made absolute before it is sent.
"""

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .errors import INSTALL_HINT, ImgconvError, InvalidInputError, MissingExtraError
from .names import quote_name
from .peers import CONNECTIONS, check_listener, check_workers

if TYPE_CHECKING:
    from .batch import Result, Task

CONNECT_TIMEOUT = 10  # seconds; Dask's own default is 30
TIMEOUT_VARIABLE = "IMGCONV_CLUSTER_TIMEOUT"  # seconds, in place of CONNECT_TIMEOUT
MAX_CONNECT_TIMEOUT = 3600
CLOSE_TIMEOUT = 1  # seconds a client that could not connect has to close (Dask's default: twice the connect's)
LOST_WORKER_RETRIES = 1  # a file whose worker died is sent once more, then reported as failed


def _distributed() -> ModuleType:
    try:
        import distributed
    except ImportError:
        raise MissingExtraError(f"--cluster needs Dask's distributed, which is not installed: "
                                     f"{INSTALL_HINT}") from None
    return distributed


def worker_version() -> str:
    """imgconv's version where this runs (on each worker, by `check_versions`)."""
    import imgconv

    return imgconv.__version__


def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``, checked: it was
    connected within ``timeout`` seconds (`_started_client`), has at least one worker
    (waiting up to ``timeout`` for one), and every worker runs this imgconv version
    (`check_versions`).

    Raises `ImgconvError` (one line naming ``address``) otherwise, and before anything
    is sent for a ``tcp://`` scheduler on this machine that another user started
    (`imgconv.peers.check_listener`), or a worker another user started there, or whose
    address cannot be its own (`imgconv.peers.check_workers`, before the versions are
    asked: the answers are unpickled); `InvalidInputError` for an address that cannot be
    one, and ``MissingExtraError`` when Dask's distributed is not installed.
    """
    distributed = _distributed()
    _check_address(distributed, address)
    check_listener(distributed, address)
    try:
        client = _started_client(distributed, address, timeout)
    except (TimeoutError, asyncio.TimeoutError):  # the deadline (asyncio's is another class before Python 3.11)
        raise ImgconvError(f"--cluster {address}: no Dask scheduler answered within {timeout:g} s") from None
    except OSError as exc:  # refused, unreachable, closed by the peer
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ImgconvError(f"--cluster {address}: no Dask scheduler answered within {timeout:g} s ({reason})") from None
    except Exception as exc:  # what Dask makes of bytes that are not its messages
        reason = " ".join(str(exc).split())
        raise ImgconvError(f"--cluster {address}: what answered is not a Dask scheduler "
                           f"({type(exc).__name__}{': ' if reason else ''}{reason})") from None
    try:
        try:
            workers = _first_workers(client, timeout)
        except Exception:  # the scheduler went away: as if no worker joined
            workers = []
        if not workers:
            raise ImgconvError(f"--cluster {address}: the scheduler has no workers (none joined within {timeout:g} s); "
                               f"start some with: dask worker {address}")
        _check_workers(client, address)
        check_versions(client, address)
    except BaseException:
        client.close()
        raise
    return client


def _check_workers(client: Any, address: str, keys: list[Any] | None = None) -> None:
    """`imgconv.peers.check_workers` on the workers of the scheduler at ``address``
    holding any of ``keys`` (None: every worker), asking it in one call which they are
    and where each one's connection comes from (`imgconv.peers.CONNECTIONS`); one line
    if it cannot say."""
    def connections() -> dict[str, str | None]:
        try:
            return dict(client.run_on_scheduler(CONNECTIONS, keys=keys))
        except Exception as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ImgconvError(f"--cluster {address}: the scheduler cannot say where its workers are connected "
                               f"from ({reason}), so they cannot be checked; use a tls:// scheduler") from None

    check_workers(_distributed(), address, connections)


def _first_workers(client: Any, timeout: float) -> list[str]:
    """The workers' addresses once at least one has joined, or none after ``timeout``
    seconds. Asked with ``nthreads``, whose answer is only addresses and numbers: Dask's
    ``wait_for_workers`` fetches what each worker says of itself, which the client
    unpickles (a worker's custom metric, say), before anything could be checked."""
    deadline = time.monotonic() + timeout
    while not (workers := list(client.nthreads())) and time.monotonic() < deadline:
        time.sleep(0.1)  # Dask's own wait_for_workers polls as often
    return workers


def connect_timeout() -> float:
    """How long `connect` waits for the scheduler and its first worker: the seconds
    ``IMGCONV_CLUSTER_TIMEOUT`` gives (a slow network may need more, a script that
    would rather fail quickly less), else `CONNECT_TIMEOUT`. A value that is not a
    number of seconds above 0 and at most an hour is refused (`InvalidInputError`)."""
    text = os.environ.get(TIMEOUT_VARIABLE)
    if text is None:
        return CONNECT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= MAX_CONNECT_TIMEOUT:  # NaN fails too
        raise InvalidInputError(f"{TIMEOUT_VARIABLE}={text!r}: give seconds, more than 0 and at most "
                                f"{MAX_CONNECT_TIMEOUT}")
    return seconds


def _check_address(distributed: ModuleType, address: str) -> None:
    """Refuse an ``address`` Dask cannot parse, or whose port is out of range, before
    anything is sent (`InvalidInputError`, one line)."""
    try:
        port = distributed.comm.get_address_host_port(address)[1]
    except ValueError as exc:
        reason = " ".join(str(exc).split())
    else:
        if 0 < port < 65536:
            return
        reason = f"port {port} is out of range"
    raise InvalidInputError(f"--cluster {address}: not a scheduler's address ({reason}); give tcp://HOST:PORT")


def _started_client(distributed: ModuleType, address: str, timeout: float) -> Any:
    """A ``distributed.Client`` of ``address``, connected, handshake and registration
    included, within ``timeout`` seconds; else the error, the client closed.

    Dask's ``timeout`` bounds only the TCP connection: a peer that accepts it and never
    answers the handshake is waited for for ever. A client that failed is closed here,
    within `CLOSE_TIMEOUT`: left to its ``__del__``, which may run as Python exits, when
    its event loop no longer runs, closing it waited twice the connect timeout, then
    printed a traceback.
    """

    base: Any = distributed.Client  # a class only known at run time: distributed is an extra

    class Client(base):
        def start(self, **kwargs: Any) -> None:
            try:
                super().start(callback_timeout=timeout, **kwargs)  # the deadline of Dask's `sync`
            except BaseException:
                with contextlib.suppress(Exception):  # the error that ended the start is the one to report
                    self.close(timeout=CLOSE_TIMEOUT)
                raise

    return Client(address, timeout=timeout, set_as_default=False)


def check_versions(client: Any, address: str | None = None) -> None:
    """Refuse workers whose imgconv differs from ``imgconv.__version__`` here (or that
    cannot import imgconv), before any file is sent."""
    import imgconv

    where = f"--cluster {address or client.scheduler.address}"
    try:
        versions = client.run(worker_version)
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ImgconvError(f"{where}: cannot run imgconv on the workers ({reason}); is imgconv installed there?") \
            from None
    wrong = {worker: version for worker, version in versions.items() if version != imgconv.__version__}
    if wrong:
        worker, version = sorted(wrong.items())[0]
        raise ImgconvError(f"{where}: {len(wrong)} of {len(versions)} workers run imgconv {version} "
                           f"({worker}), this is imgconv {imgconv.__version__}; install the same version everywhere")


def loading_error(payload: bytes) -> str | None:
    """Why ``payload`` (pickled by Dask) cannot be loaded where this runs, or None.

    Run on each worker by `ClusterExecutor`: a task that a worker cannot unpickle (a
    filter function from a module only the client has) would otherwise stay pending
    for ever, as Dask leaves it."""
    from distributed.protocol import pickle

    try:
        pickle.loads(payload)
    except Exception as exc:
        return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return None


def absolute(task: "Task") -> "Task":
    """``task`` with absolute paths, as every worker must be given them."""
    return dataclasses.replace(task, source=os.path.abspath(task.source), dest=os.path.abspath(task.dest),
                               root=None if task.root is None else os.path.abspath(task.root),
                               source_root=None if task.source_root is None else os.path.abspath(task.source_root))


class ClusterExecutor(concurrent.futures.Executor):
    """Runs ``submit(run_task, task, filt, read, write)`` on a Dask cluster.

    Each call is sent with ``pure=False`` (Dask would otherwise merge identical calls)
    and the task's paths made absolute; the `Result` comes back naming the paths as
    given. A file whose worker died (``distributed.KilledWorker``, after the scheduler's
    own ``allowed-failures`` retries) is sent once more (`LOST_WORKER_RETRIES`), then
    comes back as a failed `Result` saying so; any other error on the cluster's side
    also becomes a failed `Result`. Before a file's result is taken (unpickled), the
    workers holding it are checked (`imgconv.peers.check_workers`: one may have joined
    since `connect`); one refused stops the batch: nothing more is sent, what was sent is
    cancelled, and every file not yet taken raises that `ImgconvError`. A future is
    running from the moment it is sent, so `cancel` does not take it back: run no more at
    once than ``threads``, the cluster's total, and what is not sent is what a Ctrl-C
    cancels.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.threads: int = sum(client.nthreads().values())
        self._refusal: ImgconvError | None = None  # why the batch stopped: a worker `check_workers` refused
        self._lock = threading.Lock()
        self._sent: set[Any] = set()  # distributed.Future
        self._loadable: list[object] = []  # what every worker was shown to load, kept alive for `is`

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        task, args = args[0], args[1:]  # ``fn(task, ...)``, and the Future's value a `Result`
        if self._refusal is not None:
            raise self._refusal
        self._check_loadable(fn, *args, *kwargs.values())
        future: concurrent.futures.Future[Result] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        self._send(future, fn, task, args, kwargs, LOST_WORKER_RETRIES)
        return future

    def _check_loadable(self, *objects: object) -> None:
        """Refuse, before anything is sent, what the workers cannot unpickle."""
        from distributed.protocol import pickle

        new = [o for o in objects if not any(o is seen for seen in self._loadable)]
        if not new:
            return
        self._check_workers(None)  # the answers of `run` are unpickled
        errors = self.client.run(loading_error, pickle.dumps(new))
        failing = {worker: error for worker, error in errors.items() if error}
        if failing:
            worker, error = sorted(failing.items())[0]
            raise ImgconvError(f"{len(failing)} of {len(errors)} cluster workers cannot load the filter ({worker}: "
                               f"{error}); install its module on the workers, or define it in the script that "
                               f"runs the batch")
        self._loadable += new

    def _send(self, future: "concurrent.futures.Future[Result]", fn: Callable[..., Any], task: "Task",
              args: tuple[Any, ...], kwargs: dict[str, Any], retries: int) -> None:
        remote = self.client.submit(fn, absolute(task), *args, pure=False, **kwargs)
        with self._lock:
            self._sent.add(remote)
        remote.add_done_callback(lambda done: self._finished(done, future, fn, task, args, kwargs, retries))

    def _finished(self, remote: Any, future: "concurrent.futures.Future[Result]", fn: Callable[..., Any], task: "Task",
                  args: tuple[Any, ...], kwargs: dict[str, Any], retries: int) -> None:
        from .batch import Result

        with self._lock:
            self._sent.discard(remote)
        try:
            if self._refusal is None and remote.status == "finished":
                self._check_workers([remote.key])
        except ImgconvError as exc:
            self._refuse(exc)
        if self._refusal is not None:
            future.set_exception(self._refusal)
            return
        try:
            result = remote.result()
        except BaseException as exc:
            killed = type(exc).__name__ == "KilledWorker"
            if killed and retries > 0:
                try:
                    self._send(future, fn, task, args, kwargs, retries - 1)
                    return
                except BaseException as again:
                    exc, killed = again, False
            if killed:
                error = (f"{quote_name(task.source)}: the cluster's worker died while filtering it, "
                         f"{LOST_WORKER_RETRIES + 1} times (distributed.KilledWorker); not written. "
                         f"Is memory short on the workers?")
            else:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                error = f"{quote_name(task.source)}: failed on the cluster: {type(exc).__name__}: {reason}"
            future.set_result(Result(task.source, task.dest, "failed", error))
            return
        future.set_result(dataclasses.replace(result, input=task.source, output=task.dest))

    def _check_workers(self, keys: list[Any] | None) -> None:
        """`imgconv.peers.check_workers` on the workers holding any of ``keys`` (None:
        every worker): each may have joined since `connect`."""
        _check_workers(self.client, self.client.scheduler.address, keys)

    def _refuse(self, refusal: ImgconvError) -> None:
        """Stop the batch: no more is sent, what was sent is cancelled, and every file
        not yet taken comes back as ``refusal``, its result left on the cluster."""
        with self._lock:
            self._refusal = self._refusal or refusal
            sent = list(self._sent)
        for remote in sent:
            remote.cancel()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            sent = list(self._sent)
        if cancel_futures:
            for remote in sent:
                remote.cancel()


def logs_quiet() -> None:
    """Keep Dask's own log lines (connection retries, lost workers) off stderr: the
    CLI says what matters in one line."""
    import logging

    for name in ("distributed", "tornado"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
