"""The corpus runner (benchmarks/corpus.py): its classes of runs and its sample
comparison, on files made here, so that a fault it should report cannot pass unseen."""

import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "corpus.py"
_SPEC = importlib.util.spec_from_file_location("corpus_runner", _PATH)
corpus = importlib.util.module_from_spec(_SPEC)
sys.modules["corpus_runner"] = corpus  # dataclasses look their module up
_SPEC.loader.exec_module(corpus)


def _result(exit_code, stderr="", stdout=b""):
    return corpus.Result(exit_code, stdout, stderr, 40.0, 0.2)


@pytest.mark.parametrize(("result", "leftovers", "written", "expected"), [
    (_result(0), [], True, "success"),
    (_result(0), [], False, "no output"),
    (_result(0, "UserWarning: something\n"), [], True, "warnings"),
    (_result(0, stdout=b"done\n"), [], True, "warnings"),
    (_result(1, "imgconv: error: in.png: corrupt or truncated image\n"), [], False, "refusal"),
    (_result(1, "imgconv: error: in.png: corrupt or truncated image\n"), ["out.png"], False, "leftover"),
    (_result(1, "imgconv: error: in.png: bad\nmore text\n"), [], False, "warnings"),
    (_result(2, "Usage: imgconv [OPTIONS]\nError: no such option\n"), [], False, "warnings"),
    (_result(1, "Traceback (most recent call last):\n  File x\nValueError: no\n"), [], False, "traceback"),
    (_result(-11), [], False, "signal"),
    (_result(None), [], False, "hang"),
])
def test_classify(result, leftovers, written, expected):
    assert corpus.classify(result, leftovers, written) == expected


def test_frame_difference_normalises_representation_only(rng):
    grey = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    opaque = np.dstack([rgb, np.full_like(grey, 255)])
    assert corpus.frame_difference(grey, rgb, True) is None
    assert corpus.frame_difference(rgb, opaque, True) is None
    half = opaque.copy()
    half[0, 0, 3] = 128
    assert corpus.frame_difference(half, rgb, True).startswith("alpha lost: 1 of 35")
    tinted = rgb.copy()
    tinted[2, 3, 1] ^= 1
    assert "1 of 105 samples differ" in corpus.frame_difference(grey, tinted, True)
    signed = np.array([[-128, -1, 0, 1, 127]], np.int8)
    assert "2 of 5 samples differ" in corpus.frame_difference(signed, signed.view(np.uint8), True)
    assert corpus.frame_difference(signed, signed.astype(np.float32), True) is None
    assert "size 7x5 in, 5x7 out" in corpus.frame_difference(grey, grey.T, True)
    # Colour under alpha 0 counts, except where the output format keeps none (GIF).
    hidden = opaque.copy()
    hidden[1, 1] = (9, 9, 9, 0)
    other = hidden.copy()
    other[1, 1] = (0, 0, 0, 0)
    assert corpus.frame_difference(hidden, other, True) is not None
    assert corpus.frame_difference(hidden, other, False) is None


@pytest.mark.parametrize("orientation", range(1, 9))
def test_upright_turns_as_pillow(rng, orientation):
    stored = rng.integers(0, 256, (3, 5, 3), dtype=np.uint8)
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "PNG", exif=exif)
    buffer.seek(0)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(buffer)))
    np.testing.assert_array_equal(corpus.upright(stored, orientation), expected)


def test_compare_files_finds_lost_alpha_and_frames(tmp_path, rng):
    pixels = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    keyed = tmp_path / "keyed.png"
    pixels[0, 0] = (1, 2, 3)
    Image.fromarray(pixels).save(keyed, transparency=(1, 2, 3))  # a tRNS chunk: libpng reads alpha
    flat = tmp_path / "flat.png"
    Image.fromarray(pixels).save(flat)
    assert corpus.compare_files(str(keyed), "PNG", str(keyed), "PNG") == ["equal", ""]
    category, detail = corpus.compare_files(str(keyed), "PNG", str(flat), "PNG")
    assert (category, detail.split(" (")[0]) == ("wrong samples", "alpha lost: 1 of 36 pixels not opaque")

    frames = [Image.fromarray(np.full((4, 4, 3), value, np.uint8)) for value in (0, 100, 200)]
    three, two = tmp_path / "three.gif", tmp_path / "two.gif"
    frames[0].save(three, save_all=True, append_images=frames[1:], duration=[50, 60, 70])
    frames[0].save(two, save_all=True, append_images=frames[1:2], duration=[50, 60])
    assert corpus.compare_files(str(three), "GIF", str(three), "GIF") == ["equal", ""]
    assert corpus.compare_files(str(three), "GIF", str(two), "GIF") == ["changed frames", "3 frames in (Pillow), 2 out"]
    one, still = tmp_path / "one.gif", tmp_path / "still.gif"
    frames[0].save(one, duration=100)
    frames[0].save(still)
    assert corpus.compare_files(str(one), "GIF", str(still), "GIF") == ["equal", ""]  # a still image has no timing
    slow = tmp_path / "slow.gif"
    frames[0].save(slow, save_all=True, append_images=frames[1:], duration=[50, 60, 700])
    assert corpus.compare_files(str(three), "GIF", str(slow), "GIF")[0] == "changed frames"


def test_tiff_reference_applies_miniswhite(tmp_path, rng):
    stored = rng.integers(0, 65536, (4, 5), dtype=np.uint16)
    source = tmp_path / "white.tif"
    tifffile.imwrite(source, stored, photometric="miniswhite")
    inverted, kept = tmp_path / "inverted.tif", tmp_path / "kept.tif"
    tifffile.imwrite(inverted, 65535 - stored, photometric="minisblack")
    tifffile.imwrite(kept, stored, photometric="minisblack")
    assert corpus.compare_files(str(source), "TIFF", str(inverted), "TIFF") == ["equal", ""]
    assert corpus.compare_files(str(source), "TIFF", str(kept), "TIFF")[0] == "wrong samples"


XMP_TURNED = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/"><tiff:Orientation>6</tiff:Orientation>'
              b'</rdf:Description></rdf:RDF></x:xmpmeta>')


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_references_are_turned_by_xmp_orientation_without_exif(tmp_path, rng, fmt):
    """imgconv turns a picture whose XMP alone gives an orientation (and sets it to 1):
    the reference is turned too, a TIFF's from its XMP tag as a PNG's from its iTXt."""
    stored = rng.integers(0, 256, (3, 5, 3), dtype=np.uint8)
    source, turned, kept = (tmp_path / f"{name}.{fmt.lower()}" for name in ("source", "turned", "kept"))
    if fmt == "TIFF":
        tifffile.imwrite(source, stored, photometric="rgb", extratags=[(700, "B", len(XMP_TURNED), XMP_TURNED, True)])
    else:
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", XMP_TURNED.decode())
        Image.fromarray(stored).save(source, pnginfo=info)
    Image.fromarray(np.ascontiguousarray(np.rot90(stored, -1))).save(turned)
    Image.fromarray(stored).save(kept)
    assert np.array_equal(corpus.read_frames(str(source), fmt).arrays[0], np.rot90(stored, -1))
    ext = turned.suffix
    assert corpus.compare_files(str(source), fmt, str(turned), corpus.format_of(ext)) == ["equal", ""]
    assert corpus.compare_files(str(source), fmt, str(kept), corpus.format_of(ext))[0] == "wrong samples"


@pytest.mark.slow
def test_process_file_runs_the_cli(tmp_path, rng):
    folder = tmp_path / "collection"
    folder.mkdir()
    good = folder / "good.png"
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(good)
    truncated = folder / "truncated.png"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    options = corpus.Options([sys.executable, "-m", "imgconv"], 60, 4096, str(tmp_path))
    runs = {(Path(r.file).name, r.command): r for f in (good, truncated)
            for r in corpus.process_file(options, "collection", str(folder), str(f))}
    assert set(runs) == {(n, c) for n in ("good.png", "truncated.png") for c in ("identity", "blur -s 2")}
    assert (runs["good.png", "identity"].outcome, runs["good.png", "identity"].comparison) == ("success", "equal")
    assert runs["good.png", "blur -s 2"].outcome == "success"
    assert runs["good.png", "blur -s 2"].comparison is None
    for command in ("identity", "blur -s 2"):
        run = runs["truncated.png", command]
        assert run.outcome == "refusal", run
        assert run.stderr.startswith("imgconv: error:") and "truncated.png" in run.stderr
        assert 0 < run.peak_mb < 500
    assert list(tmp_path.iterdir()) == [folder]  # no scratch left behind


def test_peak_is_the_commands_own(tmp_path):
    """A command's peak memory is its own, however large the process that runs it: Linux
    carries the forking process's resident size into a child's ru_maxrss."""
    ballast = np.ones(300 << 20, np.uint8)  # 300 MB resident in this process
    grow = "import numpy; a = numpy.ones(120 << 20, numpy.uint8)"
    small, large = (corpus.run_command([sys.executable, "-c", code], 60, 4096, tmp_path) for code in ("pass", grow))
    assert ballast.all()
    assert (small.exit, large.exit) == (0, 0)
    assert 0 < small.peak_mb < 100
    assert 120 < large.peak_mb < 250
