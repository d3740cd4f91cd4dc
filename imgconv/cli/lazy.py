"""The library modules the commands use, each imported when one of its attributes is
first used.

The commands need NumPy and Pillow, but ``--version`` and ``--help`` do not; loading
them only when a command runs keeps those instant. Each module is made lazy once, here,
and the rest of the package imports it from here.
"""

import importlib.util
import sys
from types import ModuleType


def lazy(name: str) -> ModuleType:
    """The module ``name``, to be imported when one of its attributes is first used."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None, name  # every name below is in this package
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    package, _, child = name.rpartition(".")
    setattr(sys.modules[package], child, module)  # as a real import would
    spec.loader.exec_module(module)
    return module


batch = lazy("imgconv.batch")
demo = lazy("imgconv.demo")
filters = lazy("imgconv.filters")
formats = lazy("imgconv.io.formats")
kernelfile = lazy("imgconv.kernelfile")
kernels = lazy("imgconv.kernels")
animate = lazy("imgconv.lecture.animate")
layers = lazy("imgconv.lecture.layers")
learn = lazy("imgconv.lecture.learn")
file_options = lazy("imgconv.options")
missing_filter = lazy("imgconv.missing_filter")
params = lazy("imgconv.lecture.params")
pipeline = lazy("imgconv.pipeline")
probe = lazy("imgconv.io.probe")
restoration = lazy("imgconv.restoration")
scale_filters = lazy("imgconv.scale_filters")
threshold = lazy("imgconv.threshold")
