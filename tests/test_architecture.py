"""The package's layout, read from its source with the standard library (ast), never
imported: no import circles, no import up the floors, no private name used across
modules, no file or function too long to read. docs/architecture.md lists the modules.

Imports inside functions count (they run, only later); imports under
``if TYPE_CHECKING:`` do not (they never run), nor does an import of a computed name.
``importlib.import_module("imgconv.x")`` with a literal name counts as ``import imgconv.x``.
"""

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "imgconv"
TESTS = Path(__file__).resolve().parent

# A module imports only from its own floor or below. Each top-level module and
# subpackage of imgconv has its floor here: a new one fails
# test_every_module_has_a_floor until it is given one.
FLOORS = {
    # 0. words (no NumPy)
    "imgconv": 0,  # __version__, and the public names loaded on first use
    "imgconv.errors": 0,
    "imgconv.vocabulary": 0,
    "imgconv.names": 0,
    "imgconv.cpus": 0,
    # 1. numbers
    "imgconv.boundary": 1,
    "imgconv.engine": 1,
    "imgconv.kernels": 1,
    "imgconv.kernelfile": 1,
    "imgconv.magick": 1,
    "imgconv.npyfile": 1,
    "imgconv.gaussians": 1,
    "imgconv.scalespace": 1,
    "imgconv.missing": 1,
    # 2. pictures in and out
    "imgconv.io": 2,
    # 3. one picture
    "imgconv.filters": 3,
    "imgconv.restoration": 3,  # deconvolution
    "imgconv.views": 3,
    "imgconv.linear": 3,
    "imgconv.power_light": 3,  # a PNG gamma's curves for --linear
    "imgconv.luminance": 3,
    "imgconv.threshold": 3,
    "imgconv.scale_filters": 3,
    "imgconv.missing_filter": 3,
    "imgconv.options": 3,
    "imgconv.ndimage": 3,  # the filter commands on arrays
    "imgconv.ndimage_more": 3,  # and the scale-space and deconvolution ones
    "imgconv.in_place": 3,
    "imgconv.strips": 3,
    # 4. streaming
    "imgconv.stream": 4,
    "imgconv.dask": 4,
    # 5. one file
    "imgconv.pipeline": 5,
    "imgconv.files": 5,  # imread, imwrite, write_image: files as the commands write them
    # 6. many files
    "imgconv.batch": 6,
    "imgconv.cluster": 6,
    "imgconv.peers": 6,  # who owns a cluster's sockets on this machine
    # 7. faces
    "imgconv.cli": 7,
    "imgconv.demo": 7,
    "imgconv.lecture": 7,
    "imgconv.__main__": 7,
}

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60  # its docstring aside


@dataclass(frozen=True)
class Import:
    target: str  # the module imported (a module of the package, or anything else)
    names: tuple[str, ...]  # what ``from target import ...`` takes; () for ``import target``
    line: int
    runs: bool  # False under ``if TYPE_CHECKING:``


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def package_modules() -> dict[str, Path]:
    return {module_name(path, ROOT): path for path in sorted(PACKAGE.rglob("*.py"))}


@cache
def suite_modules() -> dict[str, Path]:
    return {module_name(path, TESTS): path for path in sorted(TESTS.glob("*.py"))}


@cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def walk(node: ast.AST, runs: bool = True) -> Iterator[tuple[ast.AST, bool]]:
    """Every node under ``node``, with whether it runs (False under ``if TYPE_CHECKING:``)."""
    for child in ast.iter_child_nodes(node):
        yield child, runs
        if isinstance(child, ast.If) and is_type_checking(child.test):
            yield child.test, runs
            for statement in child.body:
                yield statement, False
                yield from walk(statement, False)
            for statement in child.orelse:
                yield statement, runs
                yield from walk(statement, runs)
        else:
            yield from walk(child, runs)


def source(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The module ``from ... import`` takes names from, a relative one resolved."""
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def imports(module: str, path: Path) -> list[Import]:
    """What the module at ``path`` imports."""
    found = []
    for node, runs in walk(parsed(path)):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, (), node.lineno, runs) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append(Import(source(module, path, node), tuple(alias.name for alias in node.names), node.lineno,
                                runs))
        elif isinstance(node, ast.Call) and _is_import_module(node):
            found.append(Import(node.args[0].value, (), node.lineno, runs))
    return found


def _is_import_module(call: ast.Call) -> bool:
    function = call.func
    named = (isinstance(function, ast.Attribute) and function.attr == "import_module"
             and isinstance(function.value, ast.Name) and function.value.id == "importlib")
    return named and len(call.args) == 1 and isinstance(call.args[0], ast.Constant) \
        and isinstance(call.args[0].value, str) and not call.args[0].value.startswith(".")


def imported_modules(found: Import) -> list[str]:
    """The package's modules an import loads by name: ``from imgconv.io import sink``
    loads imgconv.io.sink; ``from imgconv.io.sink import write_bytes`` loads imgconv.io.sink."""
    known = package_modules()
    submodules = [f"{found.target}.{name}" for name in found.names if f"{found.target}.{name}" in known]
    if submodules and len(submodules) == len(found.names):
        return submodules
    return [*submodules, found.target] if found.target in known else submodules


@cache
def graph() -> dict[str, set[str]]:
    """Each package module and the package modules it imports where it runs."""
    return {module: {target for found in imports(module, path) if found.runs
                     for target in imported_modules(found) if target != module}
            for module, path in package_modules().items()}


def circle_through(module: str) -> list[str] | None:
    """The shortest import path from ``module`` back to itself, or None."""
    edges = graph()
    paths = {target: [module, target] for target in sorted(edges[module])}
    queue = list(paths)
    while queue:
        current = queue.pop(0)
        if current == module:
            return paths[current]
        for target in sorted(edges[current]):
            if target not in paths:
                paths[target] = [*paths[current], target]
                queue.append(target)
    return None


def floor_key(module: str) -> str:
    return ".".join(module.split(".")[:2])


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(module: str, path: Path) -> list[str]:
    """Private names of another of the package's modules that ``module`` imports or
    reaches: ``from imgconv.x import _y``, ``x._y``, ``getattr(x, "_y")``,
    ``monkeypatch.setattr(x, "_y", ...)``, ``monkeypatch.setattr("imgconv.x._y", ...)``."""
    known = package_modules()
    uses = [f"line {found.line}: from {found.target} import {name}" for found in imports(module, path)
            if found.target in known and found.target != module for name in found.names if is_private(name)]
    bound = module_names(module, path)

    def named_module(expression: ast.expr) -> str | None:
        if isinstance(expression, ast.Name):
            return bound.get(expression.id)
        if isinstance(expression, ast.Attribute):
            outer = named_module(expression.value)
            if outer is not None and f"{outer}.{expression.attr}" in known:
                return f"{outer}.{expression.attr}"
        return None

    for node, _ in walk(parsed(path)):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            owner = named_module(node.value)
            if owner is not None and owner != module:
                uses.append(f"line {node.lineno}: {owner}.{node.attr}")
        elif isinstance(node, ast.Call) and _names_attribute(node) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                owner, _, name = first.value.rpartition(".")
                if owner in known and owner != module and is_private(name):
                    uses.append(f"line {node.lineno}: {first.value}")
            elif len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                    and isinstance(node.args[1].value, str) and is_private(node.args[1].value):
                owner = named_module(first)
                if owner is not None and owner != module:
                    uses.append(f"line {node.lineno}: {owner}.{node.args[1].value}")
    return uses


def module_names(module: str, path: Path) -> dict[str, str]:
    """The names the module at ``path`` binds to the package's modules by importing them:
    ``import imgconv.io.sink`` binds imgconv, ``from imgconv.io import sink as s`` binds s."""
    known = package_modules()
    bound = {}
    for node, _ in walk(parsed(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known and alias.asname:
                    bound[alias.asname] = alias.name
                elif alias.name in known:
                    bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            target = source(module, path, node)
            bound.update((alias.asname or alias.name, f"{target}.{alias.name}") for alias in node.names
                         if f"{target}.{alias.name}" in known)
    return bound


def _names_attribute(call: ast.Call) -> bool:
    """getattr, setattr, hasattr, delattr, and pytest's monkeypatch.setattr/delattr."""
    function = call.func
    if isinstance(function, ast.Name):
        return function.id in ("getattr", "setattr", "hasattr", "delattr")
    return isinstance(function, ast.Attribute) and function.attr in ("setattr", "delattr")


def long_functions(path: Path) -> list[str]:
    found = []
    for node in ast.walk(parsed(path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                length -= first.end_lineno - first.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{node.name} (line {node.lineno}): {length} lines")
    return found


def test_every_module_has_a_floor():
    missing = sorted({floor_key(module) for module in package_modules()} - set(FLOORS))
    assert missing == [], f"give each a floor in FLOORS: {missing}"


def test_every_floor_names_a_module():
    assert sorted(set(FLOORS) - {floor_key(module) for module in package_modules()}) == []


@pytest.mark.parametrize("module", list(package_modules()))
def test_no_import_circle(module):
    assert circle_through(module) is None, " -> ".join(circle_through(module) or [])


@pytest.mark.parametrize("module", list(package_modules()))
def test_no_import_up_the_floors(module):
    assert floor_key(module) in FLOORS, "not in FLOORS (test_every_module_has_a_floor)"
    floor = FLOORS[floor_key(module)]
    up = sorted(f"{target} (floor {FLOORS[floor_key(target)]})" for target in graph()[module]
                if FLOORS.get(floor_key(target), floor) > floor)
    assert up == [], f"{module} (floor {floor}) imports {up}"


@pytest.mark.parametrize("module", list(package_modules()))
def test_the_package_uses_no_private_name_of_another_module(module):
    assert private_uses(module, package_modules()[module]) == []


@pytest.mark.parametrize("module", list(suite_modules()))
def test_the_tests_use_no_private_name_of_the_package(module):
    assert private_uses(module, suite_modules()[module]) == []


@pytest.mark.parametrize("module", list(package_modules()))
def test_no_file_or_function_too_long(module):
    path = package_modules()[module]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_FILE_LINES and long_functions(path) == [], \
        f"{lines} lines (at most {MAX_FILE_LINES}); functions over {MAX_FUNCTION_LINES}: {long_functions(path)}"


@cache
def format_names() -> frozenset[str]:
    """The names of the output formats, as imgconv/io/formats.py makes their records:
    ``Format("PNG", ...)``, ``Format(NPY, ...)`` (the constant's name)."""
    names = set()
    for node in ast.walk(parsed(PACKAGE / "io" / "formats.py")):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Format" and node.args:
            first = node.args[0]
            names.add(first.value if isinstance(first, ast.Constant) else first.id)
    return frozenset(names)


def names_a_format(node: ast.expr) -> bool:
    """``"PNG"``, ``NPY``, or a tuple, list or set holding one."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(names_a_format(element) for element in node.elts)
    return (isinstance(node, ast.Constant) and node.value in format_names()) or \
        (isinstance(node, ast.Name) and node.id in format_names())


# The formats' own modules compare names (Pillow's, of the image it opened); streaming
# has its own two kinds of output, a TIFF file and a Zarr store.
FORMATS_BY_NAME = ("imgconv.io", "imgconv.stream")


@pytest.mark.parametrize("module", [m for m in package_modules() if floor_key(m) not in FORMATS_BY_NAME])
def test_formats_are_told_apart_by_their_records_not_their_names(module):
    """What a format holds or how it is written is a field of its record
    (`imgconv.io.formats.Format`), not a comparison such as ``fmt == NPY``."""
    found = [f"line {node.lineno}: {ast.unparse(node)}" for node in ast.walk(parsed(package_modules()[module]))
             if isinstance(node, ast.Compare) and any(names_a_format(side) for side in [node.left, *node.comparators])]
    assert found == []
