"""Shared helpers for the tests: run the real command, make real image files, and the
independent references filtering is checked against."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.ndimage as ndi
from click.testing import CliRunner
from PIL import Image

from imgconv.cli import cli

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def run(*args, input=None):
    """Run ``imgconv ARGS`` in-process; the result has exit_code, stdout (bytes) and stderr."""
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def save(path, array, mode=None, **options):
    image = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    image.save(path, **options)
    return path


def load(path):
    with Image.open(path) as image:
        image.load()
        return image.mode, np.asarray(image)


def reference(image, kernel, mode="reflect", cval=0.0, correlate=False):
    """scipy.ndimage on every channel, in float64: the independent reference."""
    function = ndi.correlate if correlate else ndi.convolve
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        return function(image, kernel, mode=mode, cval=cval)
    return np.stack([function(image[..., c], kernel, mode=mode, cval=cval) for c in range(image.shape[2])], -1)


# numpy.pad's name for each boundary mode: its extension repeats reflections as often
# as a kernel needs, where scipy.ndimage.correlate goes wrong once a kernel reaches four
# image sizes beyond an edge in reflect mode.
NUMPY_PADS = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap", "constant": "constant"}


def padded_reference(image, kernel, mode, cval=0.0, correlate=False):
    """Filtering over numpy.pad's extension of every channel, in float64: the reference
    for kernels many times the image's size."""
    kernel = np.asarray(kernel, np.float64)
    if correlate:
        before = (kernel.shape[0] // 2, kernel.shape[1] // 2)
    else:
        kernel = kernel[::-1, ::-1]
        before = (kernel.shape[0] - 1 - kernel.shape[0] // 2, kernel.shape[1] - 1 - kernel.shape[1] // 2)
    image = np.asarray(image, np.float64)
    pads = [(b, n - 1 - b) for b, n in zip(before, kernel.shape, strict=True)] + [(0, 0)] * (image.ndim - 2)
    options = {"constant_values": cval} if mode == "constant" else {}
    padded = np.pad(image, pads, NUMPY_PADS[mode], **options)
    # A row of the kernel at a time, each a product with the windows along the rows: 0.1 s
    # of CPU for 139x139 taps on 90x110x2, where one einsum over 2-D windows took 1.2 s.
    rows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape[1], axis=1)
    return sum(rows[i:i + image.shape[0]] @ taps for i, taps in enumerate(kernel))


def symmetric_taps(rng, length):
    """Random taps symmetric about the anchor (index length // 2); an even length gets a
    zero first tap, so that the rest is symmetric."""
    half = rng.normal(size=length // 2 + 1)
    taps = np.concatenate([half[:0:-1], half])
    return np.concatenate([[0.0], taps]) if length % 2 == 0 else taps


def as_samples(values, dtype=np.uint8):
    info = np.iinfo(dtype)
    return np.clip(np.rint(values), info.min, info.max).astype(dtype)


def assert_rounded_from(actual, expected, dtype=np.uint8, slack=1e-3):
    """``actual`` integer samples are ``expected`` float values rounded to nearest and clipped.

    ``slack`` covers float32 arithmetic: a value within it of a .5 tie may round either way.
    """
    info = np.iinfo(dtype)
    target = np.clip(expected, info.min, info.max)
    error = np.abs(actual.astype(np.float64) - target)
    assert error.max() <= 0.5 + slack, f"off by {error.max():.4f} levels"


def assert_one_line_error(result, status, *fragments):
    """One ``imgconv: error:`` line on stderr naming each fragment, the right exit
    status, no traceback and nothing on stdout."""
    assert result.exit_code == status, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgconv: error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def one_line(stderr):
    """The one ``imgconv: error:`` line of a child process's stderr (bytes)."""
    lines = stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgconv: error: "), stderr
    return lines[0]


def expected_blur():
    """scipy.ndimage's blur of samples/chelsea.png with the r=2, s=1 Gaussian, which
    ``imgconv blur -r 2 -s 1`` is checked against."""
    g = np.exp(-np.arange(-2, 3) ** 2 / 2.0)
    g /= g.sum()
    with Image.open(SAMPLES / "chelsea.png") as image:
        return reference(np.asarray(image), np.outer(g, g))


def start_process(command, stderr=subprocess.PIPE, **options):
    """A subprocess in its own session, so that the test can stop all it started."""
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True, **options)


def stop_process(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


NOBODY = ("setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups")  # a command's prefix


def needs_root():
    """Running as another user (`NOBODY`) needs root; under CI, where tests run as root, fail instead of skipping."""
    import pytest

    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("running as another user (nobody) needs root")
        pytest.skip("running as another user (nobody) needs root")


class DaskPrograms:
    """`dask scheduler` and ``workers`` `dask worker` programs (one thread each), all on
    127.0.0.1 (dashboards too, on free ports), working in ``folder``; ``env`` adds to
    their environment. `address` is the scheduler's; `close` stops every process."""

    LOOPBACK = ("--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0")

    def __init__(self, folder, workers=2, nanny=True, env=None):
        self.program = os.path.join(os.path.dirname(sys.executable), "dask")
        self.folder, self.environment = folder, {**os.environ, **(env or {})}
        # Dask logs a line for each question put to the scheduler: a pipe no one reads
        # fills at 64 KiB (about 740 of the cluster's checks) and stops the scheduler.
        self.log = open(folder / "dask.log", "ab")  # closed by `close`
        scheduler_file = folder / "scheduler.json"
        self.processes = [start_process([self.program, "scheduler", "--port", "0", "--scheduler-file",
                                         str(scheduler_file), *self.LOOPBACK], cwd=folder, env=self.environment,
                                        stderr=self.log)]
        try:
            deadline = time.monotonic() + 60
            while not scheduler_file.exists() or not scheduler_file.read_text().strip():
                assert self.processes[0].poll() is None and time.monotonic() < deadline, "no scheduler started"
                time.sleep(0.05)
            time.sleep(0.1)  # the file may be written in more than one go
            self.address = json.loads(scheduler_file.read_text())["address"]
            self.workers = [self.start_worker(*([] if nanny else ["--no-nanny"])) for _ in range(workers)]
            self.wait_for_workers(workers)
        except BaseException:
            self.close()
            raise

    def start_worker(self, *options, listen=("--host", "127.0.0.1"), prefix=(), env=None):
        """One more `dask worker` of one thread with ``options``, listening as ``listen``
        says, run through ``prefix`` (`NOBODY`: as another user); `close` stops it, or
        `stop` alone."""
        process = start_process([*prefix, self.program, "worker", self.address, "--nthreads", "1", *listen,
                                 "--dashboard-address", "127.0.0.1:0", *options], cwd=self.folder,
                                env={**self.environment, **(env or {})}, stderr=self.log)
        self.processes.append(process)
        return process

    def wait_for_workers(self, count, exactly=False):
        """Until ``count`` workers have joined (``exactly``: and any more have left)."""
        import distributed  # the optional dask extra: only the tests that start a cluster need it

        with distributed.Client(self.address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=60)
            deadline = time.monotonic() + 60
            while exactly and len(client.nthreads()) > count:
                assert time.monotonic() < deadline, f"more than {count} workers stayed"
                time.sleep(0.05)

    def stop(self, *processes):
        """SIGTERM first, then SIGKILL for what is left after 10 s: a nanny and its worker
        killed at once left the 12 semaphores multiprocessing made in /dev/shm behind."""
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in reversed(processes):
            try:
                process.communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # what is left of its session
            process.communicate()
        self.processes = [process for process in self.processes if process not in processes]

    def close(self):
        """`stop` every process started."""
        self.stop(*self.processes)
        self.log.close()
