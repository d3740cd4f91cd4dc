"""How many CPUs this process may use: the one count batch workers, engine threads and
streamed tiles all size themselves by."""

import os


def cpu_count() -> int:
    """The CPUs this process may run on: its affinity where the system has one (a
    container or ``taskset`` limits it below the machine's count), else the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1
