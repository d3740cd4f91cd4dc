"""Fixtures shared by the tests, and the quick subset.

Everything, as CI runs it: ``pytest -q -n 3`` (three workers on two cores: many tests
wait on a browser, a cluster or their processes). The quick subset, for the edit-test
loop: ``pytest -q -n 2 -m "not slow"``. A test is marked ``@pytest.mark.slow`` (the
marker is registered in pyproject.toml) when one of its cases took 0.5 s or more, or
all of them 1 s, on the project's busy 2-core machine, or one case 0.3 s of CPU with
the processes it starts, or when it needs the Dask cluster's programs or Chromium;
the command-line tests (test_cli_*.py) keep their few real-process cases but one.
What is left reaches every module of imgconv (in-process line coverage 64%, against
67% for everything; the Dask cluster's is what it loses most, 77% to 31%).
"""

import atexit
import os
import re
import shutil
import signal
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from helpers import SAMPLES, DaskPrograms
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
from PIL import Image

# The test command leaves no files in the repository: no example database, and
# Hypothesis's own files (its cache of constants found in the code) in a temporary
# folder removed at exit.
settings.register_profile("no-database", database=None)
settings.load_profile("no-database")
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="imgconv-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)

# Compiled bytecode in a temporary folder removed at exit, for the workers and every
# process a test starts: a machine that sets PYTHONDONTWRITEBYTECODE (as this project's
# does) would otherwise compile imgconv's modules in each of them, and each worker its
# own rewritten tests (`imgconv blur` of a 512x512 PNG: 0.31 s of CPU, 0.23 with its
# bytecode kept). Nothing is written in the repository. Set here, in the process that
# starts the xdist workers, before it starts them.
def installed_bytecode() -> set[str]:
    """The bytecode files (in __pycache__ folders) of the modules this process has loaded
    (the standard library's among them), and of every module of imgconv's distribution's
    requirements, its extras', theirs (but their extras') and pip's (the wheel test
    runs it)."""
    found = {module.__cached__ for module in list(sys.modules.values())
             if getattr(module, "__file__", None) and getattr(module, "__cached__", None)}
    tag, names, todo = f".{sys.implementation.cache_tag}.pyc", set(), ["imgconv", "pip"]
    while todo:
        name = re.split(r"[^A-Za-z0-9._-]", todo.pop(), maxsplit=1)[0].lower().replace("_", "-")
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if name in names:
            continue
        names.add(name)
        todo += [need for need in distribution.requires or () if name == "imgconv" or "extra ==" not in need]
        found.update(str(file.locate()) for file in distribution.files or ()
                     if file.parent.name == "__pycache__" and file.name.endswith(tag))
    return {path for path in found if os.path.isfile(path)}


def link_installed_bytecode(prefix: str) -> None:
    """Links, in the bytecode folder `prefix`, to the installed bytecode of the modules
    the tests use: Python looks for bytecode in the prefix only, and each worker would
    compile them again, three at once as they collect the tests (pytest, Hypothesis,
    NumPy, SciPy, Dask, Zarr...: 9.7 s of CPU a worker with none, 3.3 s with all; 2,000
    compiled modules in a run, 400 of them pip's). Python checks each against its
    source, and replaces (never writes through) a link it finds stale. 6,300 links:
    0.9-2 s of CPU, once."""
    folders = set()
    for cached in installed_bytecode():
        folder = prefix + os.path.dirname(os.path.dirname(os.path.abspath(cached)))
        if folder not in folders:
            os.makedirs(folder, exist_ok=True)
            folders.add(folder)
        os.symlink(cached, os.path.join(folder, os.path.basename(cached)))


def memory_folder() -> str | None:
    """/dev/shm where it is a folder in memory with 1 GiB free (the bytecode takes 40 MB),
    else the default temporary folder: the links on this machine's ext4 took 2.3 s of CPU
    and 6.6 s, and removing them 14 s, against 0.3, 0.8 and 0.1 s in memory."""
    try:
        free = os.statvfs("/dev/shm")
    except OSError:
        return None
    return "/dev/shm" if free.f_bavail * free.f_frsize >= 1 << 30 and os.access("/dev/shm", os.W_OK) else None


if "PYTHONPYCACHEPREFIX" not in os.environ:
    _BYTECODE = tempfile.mkdtemp(prefix="imgconv-bytecode-", dir=memory_folder())
    atexit.register(shutil.rmtree, _BYTECODE, ignore_errors=True)
    link_installed_bytecode(_BYTECODE)
    os.environ["PYTHONPYCACHEPREFIX"] = _BYTECODE
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# A shell without job control (a script, `pytest ... &`) starts background commands with
# Ctrl-C ignored, and the commands the tests start would inherit that: the tests of
# Ctrl-C need it delivered, as it is in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# Modules that each run whole on one worker of `pytest -n 3`: each starts something
# costly once for its tests (a demo server, Chromium, a Dask cluster, the built
# documentation, compiled bytecode) and takes 10-40 s of CPU, or parses the package and
# the tests once for them (test_architecture: 4.5 s of CPU on one worker, 1-3 s more
# when each worker parsed them again). They are sent first, the
# one of most tests first, each to the next idle worker, so that they are spread over
# the workers from the start; the other tests, sent one by one, even out the end. xdist's
# default (--dist load) sent tests in chunks of neighbours in collection order:
# test_dask, test_demo, test_demo_restore and test_demo_browser landed on one worker,
# 133 s of CPU against 93 and 104 for the other two, and a module split over workers
# started its server or cluster on each. (--dist loadgroup with xdist_group marks would
# say the same, but xdist 3.8 renames the tests it groups in a way pytest 9 ignores.)
ONE_WORKER = ("test_dask", "test_cluster", "test_demo", "test_demo_restore", "test_demo_browser",
              "test_docs_build", "test_docs_examples", "test_architecture")


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # before xdist's own; a hook of xdist's
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "load":  # the default of -n; another, asked for, is kept
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModulesFirst(LoadScopeScheduling):
        """xdist's scheduling by scopes (the largest first, then in collection order),
        a scope being a module of ONE_WORKER, or else a single test."""

        def _split_scope(self, nodeid):
            module = nodeid.partition("::")[0]
            return module if Path(module).stem in ONE_WORKER else nodeid

    return ModulesFirst(config, log)


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


@pytest.fixture(scope="session")
def camera():
    """The grey 'camera' photograph from samples/, as a uint8 array."""
    with Image.open(SAMPLES / "camera.png") as image:
        return np.asarray(image)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """One Dask cluster for a test module, as separate programs (so that no socket of it
    is open in this process): a scheduler and two workers of one thread, all on
    127.0.0.1, working in a folder of their own, stopped after the module's last test.
    Not kept for the session: idle, its programs took 1.9 s of CPU every 30 s (6% of a
    core, for the rest of a run), against 1.9 s to start one. The scheduler does not retry
    a file whose worker died, so that imgconv's own single retry is what the tests count."""
    pytest.importorskip("distributed")
    cluster = DaskPrograms(tmp_path_factory.mktemp("dask-workers"),
                           env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})
    try:
        yield cluster
    finally:
        cluster.close()
