"""Tiled TIFF and Zarr inputs streamed block by block (imgconv.stream) through the CLI.

Every result is read back with tifffile or zarr and compared, sample for sample, with
`imgconv.correlate` on the whole image (or, for what the CLI adds around the engine:
alpha, edge display, bit depth, with the CLI's own whole-image path writing a PNG), and
once with scipy.ndimage, independently. Blocks are made one band of the engine tall (``BLOCK_BYTES`` = 1) in the small
cases, so that even a 300-row image is cut into many blocks, and tiles are smaller than
blocks or larger, so that blocks and tiles never line up.
"""

import json
import os
import signal
import subprocess
import sys
import traceback

import numpy as np
import pytest
import tifffile
from helpers import SAMPLES, assert_one_line_error, assert_rounded_from, load, reference, run

import imgconv
from imgconv.filters import kernel_filter
from imgconv.pipeline import process_file
from imgconv.stream import blocks as stream_blocks

zarr = pytest.importorskip("zarr")
pytest.importorskip("dask")

CAMERA = load(SAMPLES / "camera.png")[1]  # 512 x 512 grey
CHELSEA = load(SAMPLES / "chelsea.png")[1]  # 300 x 451 RGB
BLUR = imgconv.kernels.gaussian(3, radius=5)  # what blur -r 5 -s 3 correlates with


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(stream_blocks, "BLOCK_BYTES", 1)  # one band of the engine per block


def blurred(image, dtype=np.uint8):
    return imgconv.correlate(image, BLUR, output=dtype)


def layout(path):
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages[0]
        return {"tile": (page.tilelength, page.tilewidth), "compression": page.compression, "predictor": page.predictor,
                "bigtiff": tiff.is_bigtiff, "pages": len(tiff.pages), "planar": page.planarconfig}


def leftovers(folder):
    return [n for n in os.listdir(folder) if n.startswith(".")]


RGB16 = CHELSEA.astype(np.uint16) * 257 + np.arange(451, dtype=np.uint16)[:, None] % 257  # all 16 bits used

CASES = {
    # name: (image, tifffile.imwrite options)
    "grey-none": (CAMERA[:300], {"tile": (32, 64)}),
    "grey-deflate": (CAMERA, {"tile": (64, 48), "compression": "zlib", "predictor": True}),
    "grey-lzw": (CAMERA[:, :333], {"tile": (16, 128), "compression": "lzw"}),
    "grey-tiny-tiles": (CAMERA[:200, :200], {"tile": (16, 16), "compression": "zlib"}),  # one writer thread
    "grey-bigtiff-zstd": (CAMERA[:257], {"tile": (256, 256), "compression": "zstd", "bigtiff": True}),
    "rgb-deflate": (CHELSEA, {"tile": (48, 32), "compression": "zlib", "photometric": "rgb"}),
    "rgb-planar-separate": (CHELSEA, {"tile": (32, 32), "photometric": "rgb", "planarconfig": "separate"}),  # see below
    "rgb16-lzw-big-endian": (RGB16, {"tile": (64, 64), "compression": "lzw", "photometric": "rgb", "byteorder": ">"}),
    "grey16": (CAMERA.astype(np.uint16) * 200, {"tile": (80, 80)}),
    "float32-deflate-predictor": (CAMERA.astype(np.float32) / 255 - 0.25, {"tile": (32, 32), "compression": "zlib",
                                                                          "predictor": True}),
    "int32": (CAMERA.astype(np.int32) * 1000 - 70000, {"tile": (64, 32)}),
    "int8": ((CAMERA.astype(np.int16) - 128).astype(np.int8), {"tile": (32, 48), "compression": "zlib"}),
    "uint32": (CAMERA.astype(np.uint32) * 16843009, {"tile": (48, 32), "compression": "lzw"}),  # 255: 2**32 - 1
    "float64": (CAMERA / 255.0 - 0.25, {"tile": (32, 32), "compression": "zstd"}),
    "int16-rgb": (CHELSEA.astype(np.int16) * 200 - 25000, {"tile": (32, 64), "photometric": "rgb"}),
}


@pytest.mark.parametrize("mode", ["reflect", "wrap"])
def test_streamed_result_is_scipys_rounded(tmp_path, small_blocks, mode):
    tifffile.imwrite(tmp_path / "in.tif", CHELSEA, tile=(32, 64), photometric="rgb")
    kernel = np.arange(1.0, 36.0).reshape(5, 7) / 630  # asymmetric, odd and wider than tall
    np.savetxt(tmp_path / "k.txt", kernel)
    result = run("convolve", "-k", tmp_path / "k.txt", "-b", mode, tmp_path / "in.tif", tmp_path / "out.tif")
    assert result.exit_code == 0, result.stderr
    assert_rounded_from(tifffile.imread(tmp_path / "out.tif"), reference(CHELSEA, kernel, mode))


@pytest.mark.parametrize("name", CASES)
@pytest.mark.slow
def test_tiled_tiff_equals_the_whole_image_and_keeps_its_layout(tmp_path, small_blocks, name):
    image, options = CASES[name]
    # tifffile takes a planar image as (C, H, W), and reads it back so; imgconv reads (H, W, C).
    tifffile.imwrite(tmp_path / "in.tif", np.moveaxis(image, -1, 0) if "planarconfig" in options else image, **options)
    result = run("blur", "-r", 5, "-s", 3, tmp_path / "in.tif", tmp_path / "out.tif")
    assert result.exit_code == 0, result.stderr
    out = tifffile.imread(tmp_path / "out.tif")
    assert out.dtype == image.dtype and np.array_equal(out, blurred(image, image.dtype))
    source, written = layout(tmp_path / "in.tif"), layout(tmp_path / "out.tif")
    if "planarconfig" in options:  # written interleaved (contiguous), whatever the input's planes
        assert written.pop("planar") == 1 and source.pop("planar") == 2
    assert written == source
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("dtype", ["int8", "uint32", "float64"])
def test_signed_wide_and_float_samples_stream_in_their_type(tmp_path, small_blocks, dtype):
    """A tiled int8, uint32 or float64 TIFF was refused; streamed, it keeps its type, and
    its samples are scipy's, rounded and clipped to it."""
    image = CASES[dtype][0]
    tifffile.imwrite(tmp_path / "in.tif", image, tile=(32, 48))
    result = run("sharpen", "-a", 3, tmp_path / "in.tif", tmp_path / "out.tif")
    assert result.exit_code == 0, result.stderr
    out = tifffile.imread(tmp_path / "out.tif")
    expected = reference(image, imgconv.kernels.sharpen(3))  # symmetric: convolution is correlation
    assert out.dtype == image.dtype
    if image.dtype.kind == "f":
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)
    else:
        assert_rounded_from(out, expected, dtype=image.dtype)
        assert (expected > np.iinfo(image.dtype).max).any()  # clipped at the top too


# The CLI, as `imgconv ARGS` runs it, with blocks of BLOCK_BYTES (the first argument);
# at exit it prints its peak resident memory in KiB on stdout: VmHWM, its own, where
# getrusage's ru_maxrss would be at least the test process's (Linux carries the peak of
# the memory the child was started from across exec).
CLI_WITH_BLOCKS = """
import atexit, re, sys
import imgconv.stream.blocks
imgconv.stream.blocks.BLOCK_BYTES = int(sys.argv.pop(1))
atexit.register(lambda: print(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())[1]))
from imgconv.cli import main
main()
"""


def cli_with_blocks(block_bytes, *args):
    command = [sys.executable, "-c", CLI_WITH_BLOCKS, str(block_bytes), *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def peak_rss(*commands):
    """The peak resident memory (bytes) of each CLI command, run at once, with 512 KiB blocks."""
    runs = [cli_with_blocks(2**19, *args) for args in commands]
    peaks = []
    for process in runs:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        peaks.append(int(out) * 1024)
    return peaks


@pytest.mark.slow
def test_64_mib_image_is_never_read_whole(tmp_path, monkeypatch):
    """32768 x 2048 grey (64 MiB): the CLI's result equals the whole image's, and its
    peak memory exceeds its peak on a 256 KiB image by less than half of this one.
    Narrow, so that the engine's float32 work on a band of full-width rows (about 12
    bytes a pixel of the band) stays small beside that. How it is read, on a sixteenth
    of it (4096 rows, still many blocks): the largest read is one row of tiles, each is
    decoded once, and the largest block filtered is a small part of the image."""
    image = np.tile(CAMERA, (64, 4))
    tifffile.imwrite(tmp_path / "big.tif", image, tile=(128, 128))
    tifffile.imwrite(tmp_path / "part.tif", image[:4096], tile=(128, 128))
    tifffile.imwrite(tmp_path / "small.tif", CAMERA, tile=(128, 128))
    monkeypatch.setattr(stream_blocks, "BLOCK_BYTES", 2**20)  # 480 rows: blocks and tiles do not line up
    reads, blocks = [], []
    read_rows, block_filter = stream_blocks.read_rows, stream_blocks.BlockFilter.__call__

    def counted_read(source, top, bottom):
        reads.append(bottom - top)
        return read_rows(source, top, bottom)

    def counted_block(self, values):
        blocks.append(len(values))
        return block_filter(self, values)

    monkeypatch.setattr(stream_blocks, "read_rows", counted_read)
    monkeypatch.setattr(stream_blocks.BlockFilter, "__call__", counted_block)
    result = run("blur", "-r", 5, "-s", 3, tmp_path / "part.tif", tmp_path / "part-out.tif")
    assert result.exit_code == 0, result.stderr
    assert max(reads) == 128 and sum(reads) == 4096  # each row of tiles decoded once
    assert max(blocks) <= 480 + 48 + 5 and sum(blocks) < 1.2 * 4096  # a block, a band before, the reach
    assert np.array_equal(tifffile.imread(tmp_path / "part-out.tif"), blurred(image[:4096]))

    small, big = peak_rss(("blur", "-r", 5, "-s", 3, tmp_path / "small.tif", tmp_path / "small-out.tif"),
                          ("blur", "-r", 5, "-s", 3, tmp_path / "big.tif", tmp_path / "out.tif"))
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), blurred(image))
    # Holding the image would add its 64 MiB at least; streaming it added 0 to 23 MiB
    # (threads and what the allocator keeps), whatever the block size.
    assert big - small < image.nbytes / 2, f"{(big - small) / 2**20:.1f} MiB more than for a small image"


FILTERS = [
    ("sobel",), ("sobel", "-d", "x", "-b", "wrap"), ("box", "--kernel-size", "4", "-b", "mirror"),
    ("convolve", "-k", str(SAMPLES / "kernels" / "emboss.mat"), "-b", "constant", "--cval", "40"),
    ("motion", "-l", "15", "--angle", "30", "-b", "nearest"), ("identity",), ("blur", "-s", "2", "--depth", "16"),
]
MORE_FILTERS = [
    ("unsharp", "-s", "2", "-a", "1.5"), ("laplacian", "--diagonals"), ("scharr", "-d", "y"), ("sharpen",),
    ("emboss",), ("prewitt", "-b", "mirror"), ("convolve", "-k", "1 2; 3 -4", "--correlate", "--method", "direct"),
]


@pytest.mark.parametrize("args, alpha", [(a, alpha) for a in FILTERS for alpha in (False, True)]
                         + [(a, i % 2 == 1) for i, a in enumerate(MORE_FILTERS)])
@pytest.mark.slow
def test_every_filter_streams_as_the_whole_image_path_writes(tmp_path, small_blocks, args, alpha):
    """The streamed result equals what the whole-image path writes (alpha premultiplied,
    edges shown as magnitudes, depth converted), here as a PNG."""
    image = np.dstack([CHELSEA, np.linspace(0, 255, 451).astype(np.uint8)[None].repeat(300, 0)]) if alpha \
        else CHELSEA
    tifffile.imwrite(tmp_path / "in.tif", image, tile=(32, 48), photometric="rgb",
                     extrasamples=["unassalpha"] if alpha else None)
    whole = run(*args, "--max-pixels", 10**6, tmp_path / "in.tif", tmp_path / "whole.png")
    streamed = run(*args, tmp_path / "in.tif", tmp_path / "out.tif")
    assert whole.exit_code == streamed.exit_code == 0, whole.stderr + streamed.stderr
    _, expected = load(tmp_path / "whole.png")
    if "16" in args:  # Pillow holds no 16-bit RGB: read the PNG with imagecodecs
        import imagecodecs

        expected = imagecodecs.png_decode((tmp_path / "whole.png").read_bytes())
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), expected)


@pytest.mark.slow
def test_zarr_in_and_out(tmp_path, small_blocks):
    store = zarr.create_array(store=tmp_path / "in.zarr", shape=CHELSEA.shape, chunks=(40, 100, 3), dtype=np.uint8,
                              compressors=zarr.codecs.ZstdCodec(level=3))
    store[:] = CHELSEA
    assert run("blur", "-r", 5, "-s", 3, tmp_path / "in.zarr", tmp_path / "out.zarr").exit_code == 0
    out = zarr.open_array(tmp_path / "out.zarr", mode="r")
    assert out.chunks == (40, 100, 3) and out.compressors == store.compressors
    assert np.array_equal(out[:], blurred(CHELSEA))
    # Zarr to a tiled TIFF: chunks rounded up to TIFF's multiples of 16, deflated.
    assert run("blur", "-r", 5, "-s", 3, tmp_path / "in.zarr", tmp_path / "out.tif").exit_code == 0
    assert layout(tmp_path / "out.tif")["tile"] == (48, 112)
    assert layout(tmp_path / "out.tif")["compression"] == tifffile.COMPRESSION.ADOBE_DEFLATE
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), blurred(CHELSEA))
    # A tiled TIFF to Zarr, told its chunks and compression; and over an existing store.
    tifffile.imwrite(tmp_path / "in.tif", CAMERA, tile=(64, 64))
    for _ in range(2):
        result = run("blur", "-r", 5, "-s", 3, "--tile-size", "100,50", "--compression", "none", tmp_path / "in.tif",
                     tmp_path / "out.zarr")
        assert result.exit_code == 0, result.stderr
    out = zarr.open_array(tmp_path / "out.zarr", mode="r")
    assert out.chunks == (100, 50) and out.compressors == () and np.array_equal(out[:], blurred(CAMERA))
    assert leftovers(tmp_path) == []


def test_icc_profile_and_xmp_are_carried_and_strip_drops_the_xmp(tmp_path):
    icc = bytes(range(256)) * 2  # carried as bytes, never parsed
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    tifffile.imwrite(tmp_path / "in.tif", CAMERA, tile=(64, 64), iccprofile=icc,
                     extratags=[(700, "B", len(xmp), xmp, True)])
    for strip in (False, True):
        args = ["--strip"] if strip else []
        assert run("blur", "-s", 2, *args, tmp_path / "in.tif", tmp_path / "out.tif").exit_code == 0
        with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
            tags = tiff.pages[0].tags
            assert bytes(tags[34675].value) == icc
            assert (700 in tags) is not strip and (strip or bytes(tags[700].value) == xmp)


def test_zarr_format_2_stays_format_2(tmp_path, small_blocks):
    store = zarr.create_array(store=tmp_path / "in.zarr", data=CAMERA, chunks=(100, 100), zarr_format=2)
    assert run("blur", "-r", 5, "-s", 3, tmp_path / "in.zarr", tmp_path / "out.zarr").exit_code == 0
    out = zarr.open_array(tmp_path / "out.zarr", mode="r")
    assert out.metadata.zarr_format == 2 and out.compressors == store.compressors and out.chunks == (100, 100)
    assert np.array_equal(out[:], blurred(CAMERA))


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_deflated_zarr_chunks_carry_no_time_stamp(tmp_path, small_blocks, zarr_format):
    """Gzip stamps each chunk with the time of writing (RFC 1952's MTIME, bytes 4-7) unless
    told 0: the same command run twice must write the same store."""
    zarr.create_array(store=tmp_path / "in.zarr", data=CAMERA, chunks=(100, 100), zarr_format=zarr_format)
    result = run("blur", "-r", 5, "-s", 3, "--compression", "deflate", tmp_path / "in.zarr", tmp_path / "out.zarr")
    assert result.exit_code == 0, result.stderr
    chunks = [path.read_bytes() for path in (tmp_path / "out.zarr").rglob("*") if path.is_file()]
    deflated = [chunk for chunk in chunks if chunk[:2] == b"\x1f\x8b"]
    assert len(deflated) == 36 and all(chunk[4:8] == bytes(4) for chunk in deflated)
    out = zarr.open_array(tmp_path / "out.zarr", mode="r")
    assert out.metadata.zarr_format == zarr_format and np.array_equal(out[:], blurred(CAMERA))


def test_told_tile_size_and_compression_for_tiff(tmp_path, small_blocks):
    tifffile.imwrite(tmp_path / "in.tif", CAMERA, tile=(64, 64), compression="zlib")
    assert run("blur", "-r", 5, "-s", 3, "--tile-size", "32,128", "--compression", "lzw", tmp_path / "in.tif",
               tmp_path / "out.tif").exit_code == 0
    assert layout(tmp_path / "out.tif")["tile"] == (32, 128)
    assert layout(tmp_path / "out.tif")["compression"] == tifffile.COMPRESSION.LZW
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), blurred(CAMERA))
    result = run("blur", "-s", 2, "--tile-size", "30", tmp_path / "in.tif", tmp_path / "bad.tif")
    assert_one_line_error(result, 2, "--tile-size 30,30", "multiples of 16")
    result = run("blur", "-s", 2, "--compression", "lzw", tmp_path / "in.tif", tmp_path / "out.png")
    assert_one_line_error(result, 2, "--compression is for TIFF outputs", "not PNG")
    result = run("blur", "-s", 2, "--tile-size", "32", tmp_path / "in.tif", tmp_path / "out.png")
    assert_one_line_error(result, 2, "--tile-size is for tiled outputs")


@pytest.mark.slow
def test_pages_and_frames(tmp_path, small_blocks):
    with tifffile.TiffWriter(tmp_path / "in.tif") as writer:
        writer.write(CAMERA, tile=(64, 64))
        writer.write(CAMERA[::-1, :300], tile=(32, 32), compression="zlib")
    assert run("blur", "-r", 5, "-s", 3, tmp_path / "in.tif", tmp_path / "out.tif").exit_code == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        assert [p.tilelength for p in tiff.pages] == [64, 32]
        assert np.array_equal(tiff.pages[1].asarray(), blurred(CAMERA[::-1, :300]))
        assert np.array_equal(tiff.pages[0].asarray(), blurred(CAMERA))
    assert run("blur", "-r", 5, "-s", 3, "--frame", 1, tmp_path / "in.tif", tmp_path / "one.zarr").exit_code == 0
    assert np.array_equal(zarr.open_array(tmp_path / "one.zarr")[:], blurred(CAMERA[::-1, :300]))
    result = run("blur", "-s", 2, tmp_path / "in.tif", tmp_path / "all.zarr")
    assert_one_line_error(result, 2, "has 2 pages", "--frame N")
    for dest in ("again.zarr", "again.png"):
        result = run("blur", "-s", 2, "--frame", 1, tmp_path / "one.zarr", tmp_path / dest)
        assert_one_line_error(result, 2, "--frame 1 does not exist")


def test_non_tiled_outputs_decode_whole_within_the_pixel_limit(tmp_path):
    tifffile.imwrite(tmp_path / "in.tif", CAMERA, tile=(64, 64))
    zarr.create_array(store=tmp_path / "in.zarr", data=CAMERA, chunks=(64, 64))
    for source in ("in.tif", "in.zarr"):
        assert run("blur", "-r", 5, "-s", 3, tmp_path / source, tmp_path / "out.png").exit_code == 0
        assert np.array_equal(load(tmp_path / "out.png")[1], blurred(CAMERA))
        result = run("blur", "-s", 2, "--max-pixels", 100000, tmp_path / source, tmp_path / "big.png")
        assert_one_line_error(result, 1, "512 x 512 is more pixels than the limit of 100000",
                              "stream a tiled TIFF or Zarr input", ".tif or .zarr output")
        # Streamed, the same limit bounds what is held at once, not the image.
        assert run("blur", "-s", 2, "--max-pixels", 100000, tmp_path / source, tmp_path / "out.tif").exit_code == 0
    assert not (tmp_path / "big.png").exists()


def test_what_cannot_stream_says_so(tmp_path):
    tifffile.imwrite(tmp_path / "in.tif", CHELSEA, tile=(64, 64), photometric="rgb")
    result = run("blur", "-s", 2, "--view", "side-by-side", tmp_path / "in.tif", tmp_path / "out.tif")
    assert_one_line_error(result, 2, "--view side-by-side composes whole images", "write another format")
    result = run("blur", "-s", 2, "--background", "white", tmp_path / "in.tif", tmp_path / "out.tif")
    assert_one_line_error(result, 2, "--background composites whole images", "write another format")
    result = run("sobel", "--normalize", tmp_path / "in.tif", tmp_path / "out.tif")
    assert_one_line_error(result, 2, "--normalize", "whole image's maximum")
    result = run("blur", "-r", 600, tmp_path / "in.tif", tmp_path / "out.tif")
    assert_one_line_error(result, 2, "in.tif: a kernel longer than 1025 taps needs the whole image")
    result = run("blur", "-s", 2, "--format", "tiff", tmp_path / "in.tif", os.devnull)
    assert_one_line_error(result, 1, "not a regular file", "name a file")
    result = run("learn", tmp_path / "in.tif", tmp_path / "in.tif", tmp_path / "k.txt", "--kernel-size", 3,
                 "--max-pixels", 1000)
    assert_one_line_error(result, 1, "more pixels than the limit", "only the filter commands stream")
    result = run("conv-layer", "-k", "1 0; 0 1", "--max-pixels", 1000, tmp_path / "in.tif", tmp_path / "maps.npy")
    assert_one_line_error(result, 1, "more pixels than the limit", "only the filter commands stream")
    assert sorted(os.listdir(tmp_path)) == ["in.tif"]


def tiff_with(tmp_path, patch=None, truncate=0, **options):
    """A small tiled TIFF with its header (or tile data) patched: ``patch(tiff, data)``
    edits the bytes, given the parsed file."""
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, CAMERA[:100, :100], tile=(32, 32), **options)
    data = bytearray(path.read_bytes())
    if patch:
        with tifffile.TiffFile(path) as tiff:
            patch(tiff.pages[0], data)
    path.write_bytes(bytes(data[: len(data) - truncate]))
    return path


def set_tag(code, value):
    def patch(page, data):
        tag = page.tags[code]
        size = {3: 2, 4: 4}[tag.dtype]
        data[tag.valueoffset : tag.valueoffset + size] = value.to_bytes(size, "little")

    return patch


def garble_tile(page, data):
    start = page.dataoffsets[5]
    data[start : start + page.databytecounts[5]] = b"\xff" * page.databytecounts[5]


@pytest.mark.parametrize("case, status, fragments", [
    ({"patch": set_tag(322, 0)}, 1, ["tile"]),  # TileWidth 0
    ({"patch": set_tag(323, 65520)}, 1, ["more than the limit of 1000000"]),  # a tile 65520 rows tall
    ({"patch": set_tag(257, 60000)}, 1, ["16 tile offsets", "tiles of 32 x 32"]),  # ImageLength: counts differ
    ({"patch": set_tag(256, 1000)}, 1, ["16 tile offsets"]),  # ImageWidth
    ({"truncate": 3000}, 1, ["truncated"]),
    ({"patch": set_tag(262, 2)}, 1, ["RGB colour with 1 sample(s) a pixel"]),
    ({"patch": garble_tile, "compression": "zlib"}, 1, ["corrupt or truncated tile data"]),
])
def test_hostile_tiled_headers_are_refused_in_one_line(tmp_path, monkeypatch, case, status, fragments):
    source = tiff_with(tmp_path, **case)
    if "patch" in case and case["patch"] is not garble_tile:  # refused from the header: no tile is read
        monkeypatch.setattr(stream_blocks, "read_rows", lambda *a: pytest.fail("a tile was read"))
    result = run("blur", "-s", 2, "--max-pixels", 10**6, source, tmp_path / "out.tif")
    assert_one_line_error(result, status, str(source), *fragments)
    assert sorted(os.listdir(tmp_path)) == ["in.tif"]


def empty_tiles(page, data):
    tag = page.tags[325]  # TileByteCounts
    size = {3: 2, 4: 4, 16: 8}[tag.dtype]
    data[tag.valueoffset : tag.valueoffset + size * tag.count] = bytes(size * tag.count)


def test_tiles_without_data_count_against_the_pixel_limit(tmp_path, monkeypatch):
    source = tiff_with(tmp_path, patch=empty_tiles)  # 16 tiles of 32 x 32, none with data
    monkeypatch.setattr(stream_blocks, "read_rows", lambda *a: pytest.fail("a tile was read"))
    result = run("blur", "-s", 2, "--max-pixels", 16 * 1024 - 1, source, tmp_path / "out.tif")
    assert_one_line_error(result, 1, str(source), "16384 pixels in tiles that hold no data")
    assert sorted(os.listdir(tmp_path)) == ["in.tif"]
    monkeypatch.undo()
    # Within the limit, a sparse file is read as zeros.
    assert run("blur", "-s", 2, "--max-pixels", 16 * 1024, source, tmp_path / "out.tif").exit_code == 0
    assert not tifffile.imread(tmp_path / "out.tif").any()


def test_a_tile_row_over_the_pixel_limit_is_refused(tmp_path):
    tifffile.imwrite(tmp_path / "in.tif", CAMERA, tile=(256, 256))
    result = run("blur", "-s", 2, "--max-pixels", 100000, tmp_path / "in.tif", tmp_path / "out.tif")
    assert_one_line_error(result, 1, "a row of 256 x 256 tiles across 512 columns is 131072 pixels")


def test_without_dask_tiled_inputs_name_the_extra(tmp_path, monkeypatch):
    tifffile.imwrite(tmp_path / "in.tif", CAMERA, tile=(64, 64))
    for name in ("dask", "dask.array"):
        monkeypatch.setitem(sys.modules, name, None)  # import dask raises ImportError
    result = run("blur", "-s", 2, tmp_path / "in.tif", tmp_path / "out.tif")
    assert_one_line_error(result, 1, "pip install 'imgconv[dask]'")


def test_progress_is_counted_in_tiles(tmp_path):
    tifffile.imwrite(tmp_path / "in.tif", CAMERA, tile=(64, 128))
    result = run("blur", "-s", 2, "--progress", tmp_path / "in.tif", tmp_path / "out.tif")
    assert result.exit_code == 0
    assert result.stderr.endswith("\n") and result.stderr.split("\r")[-1].startswith("[100%] 32 tiles done in ")
    assert run("blur", "-s", 2, "--progress", "-q", tmp_path / "in.tif", tmp_path / "out.tif").stderr == ""


@pytest.mark.slow
def test_a_batch_streams_its_tiled_files_and_zarr_stores(tmp_path):
    (tmp_path / "in").mkdir()
    tifffile.imwrite(tmp_path / "in" / "a.tif", CAMERA, tile=(64, 64), compression="zlib")
    zarr.create_array(store=tmp_path / "in" / "b.zarr", data=CHELSEA, chunks=(64, 64, 3))
    result = run("blur", "-r", 5, "-s", 3, "-j", 1, tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["a.tif", "b.zarr"]
    assert layout(tmp_path / "out" / "a.tif")["tile"] == (64, 64)
    assert np.array_equal(tifffile.imread(tmp_path / "out" / "a.tif"), blurred(CAMERA))
    assert np.array_equal(zarr.open_array(tmp_path / "out" / "b.zarr")[:], blurred(CHELSEA))


@pytest.mark.parametrize("dest", ["out.tif", "out.zarr"])
@pytest.mark.slow
def test_ctrl_c_leaves_no_output(tmp_path, dest):
    """SIGINT mid-run (after the first row of tiles is written, as later blocks are
    filtered): exit 130, and neither the output nor a temporary file is left."""
    image = np.tile(CAMERA, (8, 4))  # 4096 x 2048: 64-row tiles, 96-row blocks, a Gaussian of 121 taps
    tifffile.imwrite(tmp_path / "in.tif", image, tile=(64, 128))
    process = cli_with_blocks(2**18, "blur", "-s", "20", "--threads", "1", "--progress", tmp_path / "in.tif",
                              tmp_path / dest)
    try:
        seen = b""
        while b"filtering tiles" not in seen:  # the first progress line: tiles are being written
            piece = process.stderr.read1(4096)
            assert piece, seen
            seen += piece
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=60)
    finally:
        process.kill()
    stderr = (seen + rest).decode()
    assert process.returncode == 130, stderr
    assert stderr.split("\n")[-2].strip().endswith("imgconv: error: interrupted"), stderr
    tiles = len(image) // 64 * 16
    assert f"tiles {tiles}/{tiles}" not in stderr, stderr  # stopped before the last row of tiles
    assert sorted(os.listdir(tmp_path)) == ["in.tif"], stderr


def test_a_libraries_error_while_ctrl_c_unwinds_is_the_ctrl_c(tmp_path, monkeypatch):
    """A writer's clean-up that fails as a Ctrl-C unwinds it (tifffile once raised a
    TypeError closing its file) is not a write error: the Ctrl-C goes on, nothing is left."""
    from imgconv.stream import run as stream_run

    def interrupted(file, *args):
        file.write(b"II*\0")
        try:
            raise KeyboardInterrupt
        finally:
            raise TypeError("expected str, bytes or os.PathLike object, not BufferedWriter")

    monkeypatch.setattr(stream_run, "write_tiff", interrupted)
    tifffile.imwrite(tmp_path / "in.tif", CAMERA, tile=(64, 64))
    with pytest.raises(KeyboardInterrupt):
        stream_run.process_tiled(tmp_path / "in.tif", tmp_path / "out.tif", kernel_filter(np.ones((3, 3)) / 9))
    assert sorted(os.listdir(tmp_path)) == ["in.tif"]
    # Without a Ctrl-C, the same error is a write error that names the output.
    monkeypatch.setattr(stream_run, "write_tiff", lambda *args: int("x"))
    with pytest.raises(imgconv.ImageWriteError, match=r"out\.tif: cannot write: invalid literal"):
        stream_run.process_tiled(tmp_path / "in.tif", tmp_path / "out.tif", kernel_filter(np.ones((3, 3)) / 9))


@pytest.mark.slow
def test_cluster_runs_the_blocks(tmp_path, monkeypatch, small_blocks, dask_cluster):
    """--cluster with a tiled input: the blocks run on the cluster's workers (here two
    worker processes on 127.0.0.1), given relative paths, with the same result."""
    distributed = pytest.importorskip("distributed")
    tifffile.imwrite(tmp_path / "in.tif", CHELSEA, tile=(64, 64), photometric="rgb", compression="zlib")
    monkeypatch.chdir(tmp_path)
    result = run("blur", "-r", 5, "-s", 3, "--cluster", dask_cluster.address, "in.tif", "out.tif")
    assert result.exit_code == 0, result.stderr
    with distributed.Client(dask_cluster.address, set_as_default=False) as client:
        ran = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert any("read_rows" in prefix or "TileRows" in prefix for prefix in ran), ran
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), blurred(CHELSEA))
    assert layout(tmp_path / "out.tif")["tile"] == (64, 64)


def test_hostile_zarr_metadata_is_refused_in_one_line(tmp_path):
    store = zarr.create_array(store=tmp_path / "in.zarr", shape=(100, 100), chunks=(50, 50), dtype=np.uint8)
    store[:] = CAMERA[:100, :100]
    metadata = tmp_path / "in.zarr" / "zarr.json"
    text = metadata.read_text()
    header = json.loads(text)
    header["chunk_grid"]["configuration"]["chunk_shape"] = [65536, 65536]  # chunks of 4 GiB, claimed
    metadata.write_text(json.dumps(header))
    result = run("blur", "-s", 2, tmp_path / "in.zarr", tmp_path / "out.zarr")
    assert_one_line_error(result, 1, "a row of 65536 x 65536 tiles", "more than the limit")
    metadata.write_text(text[: len(text) // 2])  # cut short
    result = run("blur", "-s", 2, tmp_path / "in.zarr", tmp_path / "out.zarr")
    assert_one_line_error(result, 1, "in.zarr: not a Zarr array, or a damaged one")
    (tmp_path / "in.zarr" / "zarr.json").unlink()
    result = run("blur", "-s", 2, tmp_path / "in.zarr", tmp_path / "out.tif")
    assert_one_line_error(result, 1, "in.zarr: not a Zarr array")
    assert sorted(os.listdir(tmp_path)) == ["in.zarr"]


def test_a_streamed_tiff_header_is_read_once(tmp_path, monkeypatch):
    """The probe that finds a TIFF tiled checks its pages then: tifffile parses the
    header once, and the rows of tiles are read through the file it opened."""
    tifffile.imwrite(tmp_path / "in.tif", CAMERA, tile=(64, 64))
    opened = []
    parse = tifffile.TiffFile.__init__

    def counting(self, *args, **kwargs):
        opened.append("read_tiff_rows" in [frame.name for frame in traceback.extract_stack()])
        parse(self, *args, **kwargs)

    monkeypatch.setattr(tifffile.TiffFile, "__init__", counting)
    process_file(tmp_path / "in.tif", tmp_path / "out.tif", kernel_filter(BLUR))
    assert opened == [False]
    monkeypatch.undo()
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), blurred(CAMERA))


def test_a_tiled_header_is_refused_after_what_comes_first(tmp_path):
    """The probe reads a tiled input's header before anything else is checked; what it
    refuses is said where it always was, after a --view that cannot stream."""
    tifffile.imwrite(tmp_path / "in.tif", CAMERA, tile=(64, 64))
    result = run("blur", "-s", 2, "--view", "side-by-side", "--max-pixels", 1000, tmp_path / "in.tif",
                 tmp_path / "out.tif")
    assert_one_line_error(result, 2, "--view side-by-side composes whole images")
    result = run("blur", "-s", 2, "--max-pixels", 1000, tmp_path / "in.tif", tmp_path / "out.tif")
    assert_one_line_error(result, 1, "a row of 64 x 64 tiles across 512 columns is 32768 pixels")
    assert sorted(os.listdir(tmp_path)) == ["in.tif"]
