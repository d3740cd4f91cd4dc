"""TIFFs that Pillow reads differently from what they hold: samples of fewer than 8 bits,
predictors and planar layouts Pillow's reader misses, 16-bit palettes, and the tags of
a multi-page input; damaged fax data and strip counts. Each file is built here; tifffile
reads the reference."""

import io
import struct
import subprocess
import sys

import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image, ImageDraw


def test_a_multi_page_tiff_keeps_the_first_pages_tags_not_the_last_pages_layout(tmp_path, rng):
    """Pillow reloads the EXIF it hands out with each page's tags as it seeks: the last
    page's layout tags (SampleFormat among them) must not come back into the output,
    where libtiff's compressing writer turns a SampleFormat of (1, 1) into signed."""
    pages = [Image.fromarray(rng.integers(0, 256, (10, 12, 2), dtype=np.uint8), "LA") for _ in range(3)]
    pages[0].save(tmp_path / "in.tif", save_all=True, append_images=pages[1:],
                  tiffinfo={339: (1, 1), 270: "first page"})
    with tifffile.TiffFile(tmp_path / "in.tif") as tiff:
        assert [page.tags.valueof(339) for page in tiff.pages] == [(1, 1)] * 3
        expected = [page.asarray() for page in tiff.pages]
    assert run("identity", "--compression", "deflate", tmp_path / "in.tif", tmp_path / "out.tif").exit_code == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        assert [page.dtype for page in tiff.pages] == [np.uint8] * 3
        assert all(np.array_equal(page.asarray(), e) for page, e in zip(tiff.pages, expected, strict=True))
        assert tiff.pages[0].description == "first page"


def _scaled(values, bits):
    """Samples of ``bits`` bits in 0-255: round(v * 255 / (2**bits - 1)), by hand."""
    return np.round(values.astype(np.float64) * 255 / ((1 << bits) - 1)).astype(np.uint8)


def _outputs(tmp_path, source):
    """``imgconv identity`` of ``source`` to TIFF and PNG, each read back by tifffile or
    libpng."""
    import imagecodecs

    arrays = {}
    for extension in (".tif", ".png"):
        result = run("identity", source, tmp_path / f"out{extension}")
        assert result.exit_code == 0, result.stderr
        path = tmp_path / f"out{extension}"
        array = tifffile.imread(path) if extension == ".tif" else imagecodecs.png_decode(path.read_bytes())
        arrays[extension] = array.astype(np.uint8) * 255 if array.dtype == np.bool_ else array  # a bilevel TIFF
    return arrays


@pytest.mark.parametrize("bits", range(1, 8))
@pytest.mark.parametrize("kind", ["minisblack", "miniswhite", "rgb contig", "rgb separate", "grey+alpha"])
def test_samples_of_fewer_than_8_bits_are_scaled_to_0_255_at_every_depth(tmp_path, rng, bits, kind):
    """One rule for 1 to 7 bits, grey and RGB, with or without alpha: round(v * 255 /
    (2**bits - 1)), white-is-zero turned. 3, 5, 6 and 7 bits and RGB had stayed in their
    own range in 8-bit outputs (nearly black), where Pillow scales 1, 2 and 4-bit grey."""
    channels = {"minisblack": 1, "miniswhite": 1, "grey+alpha": 2}.get(kind, 3)
    stored = rng.integers(0, 1 << bits, (7, 13, channels)[: 2 if channels == 1 else 3], dtype=np.uint8)
    stored.flat[:2] = (0, (1 << bits) - 1)  # both ends of the range
    photometric, _, planar = kind.partition(" ")
    options = {"extrasamples": [2]} if kind == "grey+alpha" else {}
    if planar == "separate":
        options["planarconfig"] = "separate"
    tifffile.imwrite(tmp_path / "in.tif", np.moveaxis(stored, -1, 0) if planar == "separate" else stored,
                     photometric="minisblack" if kind == "grey+alpha" else photometric,
                     bitspersample=bits, **options)
    expected = _scaled(stored, bits)
    if photometric == "miniswhite":
        expected = 255 - expected
    for extension, actual in _outputs(tmp_path, tmp_path / "in.tif").items():
        assert actual.dtype == np.uint8 and np.array_equal(actual, expected), extension


def _tiff(width, height, bits, photometric, strip, extra_tags=()):
    """A little-endian TIFF of one uncompressed strip of ``strip`` bytes and one sample
    a pixel, with ``extra_tags`` ((tag, value) of type SHORT) besides the required ones."""
    import struct

    tags = dict([(256, width), (257, height), (258, bits), (259, 1), (262, photometric), (273, 0),
                 (277, 1), (278, height), (279, len(strip)), *extra_tags])
    ifd_at = 8 + len(strip) + len(strip) % 2
    tags[273] = 8
    entries = b"".join(struct.pack("<HHLL", tag, 4, 1, value) if tag in (273, 279, 256, 257)
                       else struct.pack("<HHLHH", tag, 3, 1, value, 0) for tag, value in sorted(tags.items()))
    return (b"II*\0" + struct.pack("<L", ifd_at) + strip.ljust(ifd_at - 8, b"\0")
            + struct.pack("<H", len(tags)) + entries + b"\0\0\0\0")


def _packed(rows, bits):
    """Rows of samples packed ``bits`` bits each, most significant bit first, each row
    starting on a byte, as TIFF stores them."""
    shifts = np.arange(bits - 1, -1, -1)
    return b"".join(np.packbits(((row[:, None].astype(np.uint32) >> shifts) & 1).ravel()).tobytes() for row in rows)


@pytest.mark.parametrize("bits", [10, 12, 14])
def test_a_horizontal_predictor_on_uncompressed_samples_is_undone(tmp_path, rng, bits):
    """Predictor 2 stores each sample as its difference from the one to its left; Pillow
    read the differences of an uncompressed 12-bit file as samples."""
    # Rising along each row without passing 2**bits (where readers differ: tifffile does
    # not wrap 12-bit sums), and starting each row afresh.
    differences = rng.integers(0, (1 << bits) // 6, (3, 6)).astype(np.uint16)
    samples = np.cumsum(differences, axis=1, dtype=np.uint16)
    (tmp_path / "in.tif").write_bytes(_tiff(6, 3, bits, 1, _packed(differences, bits), [(317, 2)]))
    with tifffile.TiffFile(tmp_path / "in.tif") as tiff:  # the file is what it claims
        assert tiff.pages[0].predictor == 2 and np.array_equal(tiff.asarray(), samples)
    for extension, actual in _outputs(tmp_path, tmp_path / "in.tif").items():
        assert np.array_equal(actual, samples), extension


@pytest.mark.parametrize("channels, compression", [(2, None), (2, "packbits"), (2, "zlib"), (4, None)])
def test_grey_and_rgb_with_alpha_stored_plane_by_plane_keep_their_planes(tmp_path, rng, channels, compression):
    """PlanarConfiguration 2 (each channel a plane of its own): Pillow mixed up grey+alpha
    planes and refused uncompressed RGBA ones."""
    stored = rng.integers(0, 256, (9, 11, channels), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", np.moveaxis(stored, -1, 0), photometric="minisblack" if channels == 2
                     else "rgb", planarconfig="separate", extrasamples=[2], compression=compression)
    for extension, actual in _outputs(tmp_path, tmp_path / "in.tif").items():
        assert np.array_equal(actual, stored), extension


def test_associated_alpha_stored_plane_by_plane_is_unpremultiplied_as_when_interleaved(tmp_path, rng):
    """Associated (premultiplied) 8-bit alpha is read as Pillow reads it interleaved: the
    colour divided by the alpha. Planar and interleaved copies of one image give one
    output."""
    stored = rng.integers(0, 256, (9, 11, 2), dtype=np.uint8)
    stored[..., 0] = np.minimum(stored[..., 0], stored[..., 1])  # premultiplied: colour <= alpha
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(stored, -1, 0), photometric="minisblack",
                     planarconfig="separate", extrasamples=[1])
    tifffile.imwrite(tmp_path / "contig.tif", stored, photometric="minisblack", extrasamples=[1])
    outputs = {}
    for name in ("planar", "contig"):
        (tmp_path / name).mkdir()
        outputs[name] = _outputs(tmp_path / name, tmp_path / f"{name}.tif")
    planar, contig = outputs["planar"], outputs["contig"]
    opaque = stored[..., 1] == 255
    assert np.array_equal(planar[".tif"][opaque], stored[opaque])  # nothing to divide
    assert np.array_equal(planar[".tif"], contig[".tif"]) and np.array_equal(planar[".png"], contig[".png"])


@pytest.mark.parametrize("exact", [True, False])
def test_a_16_bit_palette_goes_through_its_colour_map_and_loses_nothing(tmp_path, rng, exact):
    """A palette of 16-bit indices: RGB from the colour map (3 x 65536 entries of 16
    bits), 8-bit where every entry is a multiple of 257 (v / 257 exact), else 16-bit."""
    colormap = rng.integers(0, 256, (3, 1 << 16)).astype(np.uint16) * 257
    if not exact:
        colormap[:, 1::2] += 1
    indices = rng.integers(0, 1 << 16, (8, 10)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", indices, photometric="palette", colormap=colormap)
    expected = (colormap // 257).astype(np.uint8).T[indices] if exact else colormap.T[indices]
    for extension, actual in _outputs(tmp_path, tmp_path / "in.tif").items():
        assert actual.dtype == expected.dtype and np.array_equal(actual, expected), extension


def test_a_tag_libtiffs_compressing_writer_refuses_is_kept_in_a_compressed_tiff(tmp_path, rng):
    """A ResolutionUnit of 12291 (no such unit) is read and carried: libtiff's writer,
    which compresses, raises RuntimeError on it; tifffile's, which writes TIFF outputs,
    keeps it, compressed or not."""
    Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).save(tmp_path / "in.tif",
                                                                           tiffinfo={296: 12291})
    out = tmp_path / "out.tif"
    assert run("identity", "--compression", "deflate", tmp_path / "in.tif", out).exit_code == 0
    with tifffile.TiffFile(out) as tiff:
        assert (tiff.pages[0].compression, tiff.pages[0].tags[296].value) == (8, 12291)
        assert np.array_equal(tiff.pages[0].asarray(), np.asarray(Image.open(tmp_path / "in.tif")))


def _fax(path):
    """A G4 (CCITT T.6) bilevel TIFF of lines and a ring, by Pillow's libtiff writer;
    the pixels (0 or 255) are returned."""
    image = Image.new("1", (200, 120), 1)
    draw = ImageDraw.Draw(image)
    for x in range(0, 200, 17):
        draw.line((x, 0, 199 - x, 119), fill=0, width=3)
    draw.ellipse((40, 20, 160, 100), outline=0, width=5)
    image.save(path, compression="group4")
    return np.asarray(image.convert("L"))


def _imgconv(*args):
    """imgconv in a child process: what libtiff prints goes to its stderr, which the
    in-process runner does not see."""
    return subprocess.run([sys.executable, "-m", "imgconv", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_a_healthy_fax_tiff_is_read_whole_and_silently(tmp_path):
    expected = _fax(tmp_path / "in.tif")
    result = _imgconv("identity", tmp_path / "in.tif", tmp_path / "out.png")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), expected)


@pytest.mark.slow
def test_fax_data_libtiff_finds_a_bad_code_word_in_is_refused_not_filled_in(tmp_path):
    """libtiff reports a bad code word as an error, fills the line and goes on: Pillow
    returns the image, lines made up. 0xFF 0x01 0xFF (seven 0 bits between 1s: no code
    of T.6) gave that error at each of 347 places tried across four such faxes."""
    _fax(tmp_path / "fax.tif")
    data = bytearray((tmp_path / "fax.tif").read_bytes())
    with Image.open(tmp_path / "fax.tif") as image:
        middle = image.tag_v2[273][0] + image.tag_v2[279][0] // 2
    data[middle:middle + 3] = b"\xff\x01\xff"
    (tmp_path / "in.tif").write_bytes(data)
    result = _imgconv("identity", tmp_path / "in.tif", tmp_path / "out.png")
    assert result.returncode == 1 and result.stdout == "", result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("imgconv: error: "), result.stderr
    assert "in.tif: damaged TIFF data (libtiff: Bad code word at line " in result.stderr
    assert not (tmp_path / "out.png").exists()


def _patched_count(data, tag, count):
    """A little-endian classic TIFF's bytes with the count of ``tag`` in its first
    directory set to ``count`` (the values stay where they are)."""
    data = bytearray(data)
    (ifd,) = struct.unpack_from("<L", data, 4)
    (entries,) = struct.unpack_from("<H", data, ifd)
    for entry in range(ifd + 2, ifd + 2 + 12 * entries, 12):
        if struct.unpack_from("<H", data, entry)[0] == tag:
            struct.pack_into("<L", data, entry + 4, count)
            return bytes(data)
    raise AssertionError(f"no tag {tag}")


@pytest.mark.parametrize(("tag_name", "tag", "layout", "segments"), [
    ("StripOffsets", 273, {"rowsperstrip": 4}, 5),
    ("StripByteCounts", 279, {"rowsperstrip": 4}, 5),
    ("TileOffsets", 324, {"tile": (16, 16)}, 6),
    ("TileByteCounts", 325, {"tile": (16, 16)}, 6),
])
def test_offsets_or_byte_counts_short_of_the_strips_or_tiles_are_refused(tmp_path, rng, tag_name, tag, layout,
                                                                         segments):
    """Short offsets: Pillow makes a strip or tile of each offset there is and leaves
    the rest of the image black. Short byte counts: Pillow reads every segment (an
    uncompressed one is as long as its rows), tifffile only those counted, logging the
    count as incorrect. The readers disagree: refused from the header."""
    pixels = rng.integers(0, 256, (20, 40), dtype=np.uint8)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, pixels, byteorder="<", **layout)
    assert len(tifffile.TiffFile(io.BytesIO(buffer.getvalue())).pages[0].dataoffsets) == segments
    (tmp_path / "whole.tif").write_bytes(buffer.getvalue())
    (tmp_path / "in.tif").write_bytes(_patched_count(buffer.getvalue(), tag, segments - 1))
    assert run("identity", tmp_path / "whole.tif", tmp_path / "whole.png").exit_code == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "whole.png")), pixels)
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.png")
    unit = "strips" if tag < 300 else "tiles"
    assert_one_line_error(result, 1, "in.tif: damaged TIFF: its", f"{tag_name} holds {segments - 1} values for the "
                          f"{segments} {unit}")
    assert not (tmp_path / "out.png").exists()


def test_a_byte_count_past_the_end_of_the_file_is_refused(tmp_path, rng):
    """Pillow reads an uncompressed strip as long as its rows whatever its byte count;
    tifffile reads none of a strip that runs past the end. Refused from the header."""
    pixels = rng.integers(0, 256, (20, 40), dtype=np.uint8)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, pixels, byteorder="<", rowsperstrip=4)
    data = bytearray(buffer.getvalue())
    with tifffile.TiffFile(io.BytesIO(data)) as tiff:
        counts = tiff.pages[0].tags["StripByteCounts"]
        struct.pack_into("<H" if counts.dtype == tifffile.DATATYPE.SHORT else "<L", data, counts.valueoffset, 60000)
    (tmp_path / "in.tif").write_bytes(data)
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.png")
    assert_one_line_error(result, 1, "in.tif: damaged TIFF: its StripByteCounts give strip 0 60000 bytes from "
                          f"byte {tifffile.TiffFile(tmp_path / 'in.tif').pages[0].dataoffsets[0]}, past the end of "
                          f"the {len(data)}-byte file")
    assert not (tmp_path / "out.png").exists()
