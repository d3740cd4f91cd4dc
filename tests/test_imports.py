"""What a command loads: the modules it uses, and no others.

Most of a small command's time is imports (benchmarks/startup.py measures them), so a
command on one PNG loads neither the streaming of tiled images, nor the batch's worker
processes, nor the codecs of other formats. Each command runs in a child process, as a
user runs it, and reports the modules it has loaded; one the command line made lazy
(`imgconv.cli.lazy`) and never used is in ``sys.modules`` but not loaded, and does not
count. Each also leaves its objects to the end of the process (`imgconv.cli.main`).
"""

import ast
import subprocess
import sys

import click
import numpy as np
import pytest
import tifffile
from helpers import SAMPLES, assert_rounded_from, expected_blur, load, save
from PIL import Image

from imgconv.cli import LazyCommands, cli
from imgconv.io import formats

SCRIPT = """
import atexit, gc, sys
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))  # after the command's own
from imgconv.cli import main
sys.argv = ["imgconv", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    status = exc.code
print(repr((status, sorted(name for name, module in sys.modules.items() if type(module).__name__ != "_LazyModule"))))
"""

# Loaded by no command on one image that is not tiled.
STREAMING = {"imgconv.stream", "imgconv.stream.run", "imgconv.stream.blocks", "imgconv.stream.writers",
             "imgconv.dask", "imgconv.io.tiles", "imgconv.io.tiff_tiles", "imgconv.io.zarr_store", "dask", "zarr",
             "tifffile"}
WORKERS = {"imgconv.batch.run", "imgconv.batch.workers", "imgconv.batch.progress", "imgconv.cluster",
           "multiprocessing", "distributed"}
WRITERS = {"imgconv.io.png", "imgconv.io.pillow_write", "imgconv.io.tiff_write", "imgconv.io.animation",
           "imgconv.io.npy_write"}


def loaded_by(*args, cwd=None):
    """The modules ``imgconv ARGS`` loads, once it has exited with status 0, leaving its
    objects to the end of the process (frozen, not collected one by one)."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, check=True)
    *_, report, frozen = done.stdout.splitlines()
    status, modules = ast.literal_eval(report)
    assert status in (0, None), done.stderr
    assert frozen == "frozen at exit: True"
    return set(modules)


def test_the_group_makes_each_command_when_first_looked_up():
    made = []

    def maker(name):
        return lambda: made.append(name) or click.Command(name)

    commands = LazyCommands({"blur": maker("blur"), "sharpen": maker("sharpen")})
    assert list(commands) == ["blur", "sharpen"] and len(commands) == 2 and made == []
    assert commands["sharpen"] is commands.get("sharpen") and made == ["sharpen"]  # made once
    assert commands.get("blurr") is None and "blurr" not in commands
    commands["formats"] = given = click.Command("formats")
    del commands["blur"]
    assert list(commands) == ["sharpen", "formats"] and commands["formats"] is given and made == ["sharpen"]
    assert [cli.commands[name].name for name in cli.commands] == list(cli.commands)  # each made under its name


@pytest.mark.parametrize("arguments", [["--version"], ["--help"], ["blur", "--help"]])
def test_version_and_help_load_only_the_command_line(arguments):
    """Only the command line's own modules, and the plain words and messages below it."""
    ours = {name for name in loaded_by(*arguments) if name.split(".")[0] == "imgconv"}
    assert {name for name in ours if not name.startswith("imgconv.cli")} <= \
        {"imgconv", "imgconv.errors", "imgconv.names", "imgconv.vocabulary", "imgconv.io", "imgconv.lecture"}


@pytest.mark.slow
def test_kernels_and_formats_load_what_they_list():
    kernels = loaded_by("kernels")
    assert "imgconv.kernels" in kernels and not {"PIL", "imgconv.io.formats", "imgconv.pipeline"} & kernels
    listed = loaded_by("formats")
    assert "imgconv.io.formats" in listed and not {"imgconv.engine", "imgconv.pipeline"} & listed


@pytest.mark.slow
def test_a_png_blurred_loads_the_png_writer_alone(tmp_path):
    loaded = loaded_by("blur", "-r", "2", "-s", "1", SAMPLES / "chelsea.png", tmp_path / "out.png")
    assert {"imgconv.pipeline", "imgconv.io.png"} <= loaded
    assert not loaded & (STREAMING | WORKERS | WRITERS - {"imgconv.io.png", "imgconv.io.pillow_write"})
    mode, pixels = load(tmp_path / "out.png")
    assert mode == "RGB"
    assert_rounded_from(pixels, expected_blur())


@pytest.mark.slow
def test_a_jpeg_blurred_loads_pillows_writer_alone(tmp_path):
    _, pixels = load(SAMPLES / "chelsea.png")
    save(tmp_path / "in.jpg", pixels, quality=95)
    loaded = loaded_by("blur", "-s", "1", tmp_path / "in.jpg", tmp_path / "out.jpg")
    assert "imgconv.io.pillow_write" in loaded
    assert not loaded & (STREAMING | WORKERS | WRITERS - {"imgconv.io.pillow_write"} | {"imagecodecs._cms"})
    mode, blurred = load(tmp_path / "out.jpg")
    assert mode == "RGB" and blurred.shape == pixels.shape


@pytest.mark.slow
def test_a_batch_loads_its_workers_and_no_streaming(tmp_path):
    (tmp_path / "in").mkdir()
    _, pixels = load(SAMPLES / "chelsea.png")
    for i in range(3):
        save(tmp_path / "in" / f"{i}.png", np.roll(pixels, 10 * i, axis=1))
    loaded = loaded_by("blur", "-r", "2", "-s", "1", "-j", "2", "--quiet", tmp_path / "in", tmp_path / "out")
    assert {"imgconv.batch.run", "imgconv.batch.workers"} <= loaded
    assert not loaded & STREAMING
    assert pillow_plugins(loaded) <= {f"PIL.{name}ImagePlugin" for name in ("Png", "Jpeg", "Gif", "Bmp", "Ppm")}
    for i in range(3):
        assert load(tmp_path / "out" / f"{i}.png")[1].shape == pixels.shape


@pytest.mark.slow
def test_a_tiled_tiff_streamed_loads_the_streaming_and_no_cluster_nor_other_writer(tmp_path):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (96, 80), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", grey, tile=(32, 32))
    loaded = loaded_by("box", "-r", "1", tmp_path / "in.tif", tmp_path / "out.tif")
    assert {"imgconv.stream.run", "tifffile", "dask.array"} <= loaded
    assert not loaded & (WRITERS | {"distributed"})  # Dask's rechunk asks it for a client, unless told
    padded = np.pad(grey.astype(np.float64), 1, mode="symmetric")
    mean = sum(padded[y:y + 96, x:x + 80] for y in range(3) for x in range(3)) / 9
    assert_rounded_from(tifffile.imread(tmp_path / "out.tif"), mean)


def pillow_plugins(loaded):
    return {name for name in loaded if name.startswith("PIL.") and name.endswith("ImagePlugin")}


@pytest.mark.slow
def test_a_tiff_read_or_written_loads_tiffs_pillow_plugin_not_all(tmp_path):
    """Pillow's first five plugins (PNG, JPEG, GIF, BMP, PPM) and TIFF's, not its forty-odd."""
    _, pixels = load(SAMPLES / "camera.png")
    tifffile.imwrite(tmp_path / "in.tif", pixels)  # not tiled: decoded whole, by Pillow
    first = {f"PIL.{name}ImagePlugin" for name in ("Png", "Jpeg", "Gif", "Bmp", "Ppm")}
    for source, dest in (("in.tif", "out.png"), ("in.tif", "out.tiff"), (SAMPLES / "camera.png", "out.tif")):
        assert pillow_plugins(loaded_by("box", "-r", "1", source, dest, cwd=tmp_path)) <= first | \
            {"PIL.TiffImagePlugin"}
    padded = np.pad(pixels.astype(np.float64), 1, mode="symmetric")
    mean = sum(padded[y:y + pixels.shape[0], x:x + pixels.shape[1]] for y in range(3) for x in range(3)) / 9
    for name in ("out.png", "out.tiff", "out.tif"):
        assert_rounded_from(load(tmp_path / name)[1], mean)


@pytest.mark.slow
def test_the_formats_plugins_alone_tell_their_extensions_as_all_of_pillows_do():
    """`imgconv.io.formats.format_of_extension` loads the plugins of imgconv's formats
    one by one, and all of Pillow's only for an extension none of them has: what those
    plugins register must be what all of Pillow's together give."""
    script = ("import contextlib, importlib\nfrom PIL import Image\nfrom imgconv.io import formats\n"
              "Image.preinit()\nfor record in formats.FORMATS.values():\n"
              "    with contextlib.suppress(ImportError):\n"
              "        record.plugin and importlib.import_module('PIL.' + record.plugin)\n"
              "print(repr(Image.EXTENSION))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    told = ast.literal_eval(done.stdout.splitlines()[-1])
    everything = Image.registered_extensions()
    assert ".tif" in told and told == {extension: everything[extension] for extension in told}


@pytest.mark.parametrize("record", list(formats.FORMATS.values()), ids=lambda record: record.name)
def test_every_formats_writers_are_named_rightly(record):
    """Each writer a record names is a function of the module it names, also for the
    formats this Pillow may lack (and the tests cannot write)."""
    for animated in (False, True):
        writer = record.writer_of(animated)
        module, _, name = (record.animation_writer if animated and record.animation_writer else record.writer) \
            .partition(":")
        assert callable(writer) and writer.__module__ == f"imgconv.io.{module}" and writer.__name__ == name
