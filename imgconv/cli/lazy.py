"""The library modules the commands use, each imported when one of its attributes is
first used.

The commands need NumPy and Pillow, but ``--version`` and ``--help`` do not; loading
them only when a command runs keeps those instant. Each module is made lazy once, here
(`LazyModule`), and the rest of the package imports it from here.
"""

import importlib
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """Stands for the module of its name, imported by an ordinary import when one of
    its attributes is first used.

    Not importlib's LazyLoader, which puts the module in ``sys.modules`` at once and
    runs it there on first use: a Ctrl-C in the middle left it half run, and what used
    it next (a batch's summary) met a module without its names instead of importing it
    again. An ordinary import that is interrupted leaves no module behind."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self.__name__), name)


batch = LazyModule("imgconv.batch")
demo = LazyModule("imgconv.demo")
filters = LazyModule("imgconv.filters")
formats = LazyModule("imgconv.io.formats")
kernelfile = LazyModule("imgconv.kernelfile")
kernels = LazyModule("imgconv.kernels")
animate = LazyModule("imgconv.lecture.animate")
layers = LazyModule("imgconv.lecture.layers")
learn = LazyModule("imgconv.lecture.learn")
file_options = LazyModule("imgconv.options")
missing_filter = LazyModule("imgconv.missing_filter")
params = LazyModule("imgconv.lecture.params")
pipeline = LazyModule("imgconv.pipeline")
probe = LazyModule("imgconv.io.probe")
restoration = LazyModule("imgconv.restoration")
scale_filters = LazyModule("imgconv.scale_filters")
threshold = LazyModule("imgconv.threshold")
