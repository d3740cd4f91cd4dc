"""Attacks and faults, each reproduced as an attacker would make it: outputs that are
not regular files, standard output closing or filling up, and (further down) huge or
non-finite inputs. Each must give a result or one line, never a traceback."""

import io
import os
import stat
import struct
import subprocess
import sys
import threading
import tracemalloc
import zlib

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner
from helpers import SAMPLES, assert_rounded_from, expected_blur, load, one_line, run
from PIL import Image

from imgconv.cli import cli

CHELSEA = SAMPLES / "chelsea.png"
BLUR = ("blur", "-r", "2", "-s", "1")


def imgconv(*args, **options):
    """The real command in a child process: its exit status and stderr as text."""
    return subprocess.run([sys.executable, "-m", "imgconv", *map(str, args)], stderr=subprocess.PIPE,
                          timeout=120, **options)


def test_a_named_pipe_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run(*BLUR, CHELSEA, fifo)
    reader.join(timeout=60)
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    (tmp_path / "received.png").write_bytes(received[0])
    assert_rounded_from(load(tmp_path / "received.png")[1], expected_blur())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "received.png"]  # no temporary file


def test_dev_null_stays_a_device():
    result = run(*BLUR, CHELSEA, "/dev/null")
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.slow
def test_a_full_device_is_one_line():
    result = imgconv(*BLUR, CHELSEA, "/dev/full")
    assert result.returncode == 1 and "No space left on device" in one_line(result.stderr)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_symbolic_link_is_followed_to_its_target(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    target = tmp_path / "elsewhere" / "target.png"
    target.write_bytes((SAMPLES / "camera.png").read_bytes())
    link = tmp_path / "link.png"
    link.symlink_to(os.path.join("elsewhere", "target.png"))
    assert run(*BLUR, CHELSEA, link).exit_code == 0
    assert link.is_symlink() and os.readlink(link) == os.path.join("elsewhere", "target.png")
    assert_rounded_from(load(target)[1], expected_blur())
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["target.png"]


@pytest.mark.slow
def test_a_reader_that_leaves_ends_the_command_quietly():
    """As `imgconv blur in.png - | head -c 10`: exit status 141, nothing on stderr."""
    child = subprocess.Popen([sys.executable, "-m", "imgconv", *BLUR, CHELSEA, "-"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert child.stdout.read(10).startswith(b"\x89PNG")
        child.stdout.close()
        assert child.wait(timeout=120) == 141
        assert child.stderr.read() == b""
    finally:
        child.kill()
        child.wait()


@pytest.mark.slow
def test_a_closed_standard_output_is_one_line():
    """As `imgconv blur in.png - >&-`."""
    result = imgconv(*BLUR, CHELSEA, "-", stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(1))
    assert result.returncode == 1 and "standard output is closed" in one_line(result.stderr)


@pytest.mark.slow
def test_a_full_standard_output_is_one_line():
    """As `imgconv blur in.png - > /dev/full`."""
    with open("/dev/full", "wb") as full:
        result = imgconv(*BLUR, CHELSEA, "-", stdout=full)
    assert result.returncode == 1 and "No space left on device" in one_line(result.stderr)


@pytest.mark.parametrize("dest", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", "link"])
@pytest.mark.slow
def test_dev_stdout_is_written_into_the_pipe_it_is(tmp_path, dest):
    """As `imgconv blur in.png /dev/stdout | wc -c`: the kernel's link names the pipe
    ``pipe:[N]``, which no folder holds, so it is written into, not resolved and replaced."""
    (tmp_path / "link").symlink_to("/dev/stdout")
    result = imgconv(*BLUR, CHELSEA, dest, stdout=subprocess.PIPE, cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == b""
    (tmp_path / "received.png").write_bytes(result.stdout)
    assert_rounded_from(load(tmp_path / "received.png")[1], expected_blur())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "received.png"]


@pytest.mark.slow
def test_dev_stdout_writes_where_the_shell_opened_it(tmp_path):
    """As `{ printf head; imgconv blur in.png /dev/stdout; } >> out`: after what is
    there already, as `-` would; the file the shell holds is neither replaced nor cut."""
    out = tmp_path / "out"
    out.write_bytes(b"head")
    with open(out, "ab") as shell:
        assert imgconv(*BLUR, CHELSEA, "/dev/stdout", stdout=shell).returncode == 0
    with open(out, "ab") as shell:
        assert imgconv(*BLUR, CHELSEA, "-", stdout=shell).returncode == 0
    data = out.read_bytes()
    assert data.startswith(b"head\x89PNG") and len(data) % 2 == 0
    half = (len(data) - 4) // 2
    assert data[4:4 + half] == data[4 + half:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.slow
def test_dev_stdout_on_a_terminal_is_refused_as_dash_is():
    import pty

    main, terminal = pty.openpty()
    try:
        result = imgconv(*BLUR, CHELSEA, "/dev/stdout", stdout=terminal)
        assert result.returncode == 2 and "terminal" in one_line(result.stderr)
        os.set_blocking(main, False)
        with pytest.raises(BlockingIOError):  # nothing was written to it
            os.read(main, 100)
    finally:
        os.close(main)
        os.close(terminal)


@pytest.mark.slow
def test_a_descriptor_that_is_not_open_is_one_line():
    result = imgconv(*BLUR, CHELSEA, "/dev/fd/9", stdout=subprocess.DEVNULL)
    assert result.returncode == 1 and "/dev/fd/9: cannot write: Bad file descriptor" in one_line(result.stderr)


# ------------------------------------------------------------------ limits before allocation


def png_bomb(path, side):
    """A grey PNG of side x side zeros: a few hundred KB that decode to side² bytes."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = zlib.compressobj(9)
    data = b"".join(rows.compress(b"\0" * (side + 1)) for _ in range(side)) + rows.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def npy_claiming(path, shape, dtype="<f4", payload=b"\0" * 64):
    """A .npy file whose header claims ``shape`` and whose data is ``payload``."""
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}"
    header = header.ljust(118) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload)
    return path


def run_measured(*args, **options):
    """``run`` with the peak of Python and NumPy allocations during it."""
    tracemalloc.start()
    try:
        return run(*args, **options), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def imgconv_peak(*args):
    """The real command's exit status, stderr and peak resident memory in MiB, measured
    by a parent of its own (Pillow's C allocations escape tracemalloc)."""
    measure = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stderr=subprocess.PIPE); "
               "sys.stderr.buffer.write(r.stderr); "
               "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    result = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "imgconv", *map(str, args)],
                            capture_output=True, timeout=120)
    status, peak = result.stdout.split()
    return int(status), result.stderr, float(peak)


@pytest.mark.slow
def test_a_decompression_bomb_is_refused_from_its_header(tmp_path):
    bomb = png_bomb(tmp_path / "bomb.png", 12000)
    assert bomb.stat().st_size < 200_000
    status, stderr, peak = imgconv_peak(*BLUR, "--max-pixels", 100_000_000, bomb, tmp_path / "out.png")
    line = one_line(stderr)
    assert status == 1 and "12000 x 12000" in line and "100000000" in line and "--max-pixels" in line
    assert peak < 100, f"{peak:.0f} MiB"  # decoding it would take 137 MiB for the pixels alone
    assert not (tmp_path / "out.png").exists()


@pytest.mark.slow
def test_a_large_jpeg_2000_output_is_written_in_tiles(tmp_path):
    """OpenJPEG holds the tile being encoded several times over as 32-bit integers: this
    2048x2048 RGB picture (12 MiB) written as one tile peaked at 225 MiB, in tiles of
    1024 at 158 MiB. The file is exact, read by OpenJPEG through imagecodecs."""
    import imagecodecs

    rows, columns = np.mgrid[0:2048, 0:2048]
    pixels = np.dstack([(columns // 8) % 256, (rows // 8) % 256, ((rows + columns) // 16) % 256]).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    status, stderr, peak = imgconv_peak("identity", tmp_path / "in.png", tmp_path / "out.jp2")
    assert (status, stderr) == (0, b"")
    assert peak < 190, f"{peak:.0f} MiB"
    data = (tmp_path / "out.jp2").read_bytes()
    siz = data.index(b"\xff\x51")  # the codestream's SIZ marker: image, then tile size
    assert struct.unpack(">IIIIII", data[siz + 6 : siz + 30]) == (2048, 2048, 0, 0, 1024, 1024)
    assert np.array_equal(imagecodecs.jpeg2k_decode(data), pixels)


@pytest.mark.slow
def test_a_gif_frame_claiming_a_huge_extent_is_refused_before_pillow_allocates_it(tmp_path):
    """A 24x16 GIF whose second frame's descriptor claims 65534 x 4096, with disposal 2:
    seeking to that frame, Pillow fills the area the disposal clears (1 GB) before
    imgconv sees the frame's size . Pillow's own check, at half the
    limit, now refuses first."""
    rng = np.random.default_rng(3)
    frames = [Image.fromarray(rng.integers(0, 256, (16, 24), np.uint8)) for _ in range(3)]
    frames[0].save(tmp_path / "in.gif", save_all=True, append_images=frames[1:], disposal=2, duration=50)
    data = bytearray((tmp_path / "in.gif").read_bytes())
    descriptors = [i for i in range(len(data) - 9) if data[i : i + 9] == b"\x2c\0\0\0\0\x18\0\x10\0"]
    assert len(descriptors) == 3  # x 0, y 0, width 24, height 16 each
    data[descriptors[1] + 5 : descriptors[1] + 9] = struct.pack("<HH", 65534, 4096)
    (tmp_path / "huge.gif").write_bytes(data)
    status, stderr, peak = imgconv_peak(*BLUR, "--max-pixels", 1_000_000, tmp_path / "huge.gif", tmp_path / "out.gif")
    line = one_line(stderr)
    assert status == 1 and "huge.gif" in line and "limit of 1000000" in line and "--max-pixels" in line
    assert peak < 200, f"{peak:.0f} MiB"  # the disposal area alone is 1 GiB
    assert not (tmp_path / "out.gif").exists()
    assert run(*BLUR, tmp_path / "in.gif", tmp_path / "fine.gif").exit_code == 0  # the unmodified file


@pytest.mark.slow
def test_a_tiff_claiming_thousands_of_samples_a_pixel_is_refused_from_its_header(tmp_path):
    """A 24x16 int32 TIFF whose SamplesPerPixel says 65535: within the pixel limit as
    pixels, 100 MB to read (194 GiB with a wider claim). Counted as a
    .npy is, four samples a pixel, it is refused before anything is read."""
    import tifffile

    tifffile.imwrite(tmp_path / "in.tif", np.arange(384, dtype=np.int32).reshape(16, 24))
    data = (tmp_path / "in.tif").read_bytes()
    entry = struct.pack("<HHII", 277, 3, 1, 1)  # SamplesPerPixel, SHORT, one value: 1
    assert data.count(entry) == 1
    (tmp_path / "wide.tif").write_bytes(data.replace(entry, struct.pack("<HHII", 277, 3, 1, 65535)))
    status, stderr, peak = imgconv_peak("identity", "--max-pixels", 1_000_000, tmp_path / "wide.tif",
                                        tmp_path / "out.tif")
    line = one_line(stderr)
    assert status == 1 and "24 x 16 x 16384 is more pixels than the limit of 1000000" in line
    assert peak < 150, f"{peak:.0f} MiB"
    assert not (tmp_path / "out.tif").exists()


def blp_claiming(path, width, height, size=300):
    """A BLP2 of DXT1 blocks (8 bytes a 4x4 block) whose header claims width x height
    and whose file is ``size`` bytes: mipmap offsets and lengths, part of a palette."""
    header = b"BLP2" + struct.pack("<iBBBBII", 1, 2, 0, 0, 0, width, height)
    mipmaps = struct.pack("<16I", 148, *[0] * 15) + struct.pack("<16I", size - 148, *[0] * 15)
    path.write_bytes((header + mipmaps).ljust(size, b"\0"))
    return path


def jpeg_claiming(path, width, height, **options):
    """A 16x16 JPEG whose frame header (SOF) claims width x height."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(9).integers(0, 256, (16, 16, 3), np.uint8)).save(buffer, "JPEG", **options)
    data = bytearray(buffer.getvalue())
    frame = data.index(b"\xff\xc2" if options.get("progressive") else b"\xff\xc0")
    data[frame + 5:frame + 9] = struct.pack(">HH", height, width)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("build, name, claim", [
    (lambda path: blp_claiming(path, 1, 83886338), "in.blp", "1 x 83886338"),  # Pillow's timeout-*.blp
    (lambda path: jpeg_claiming(path, 10000, 10000), "in.jpg", "10000 x 10000"),
    (lambda path: jpeg_claiming(path, 10000, 10000, progressive=True), "in.jpg", "10000 x 10000"),
])
@pytest.mark.slow
def test_a_header_claiming_more_than_the_data_can_hold_is_refused_before_allocation(tmp_path, build, name, claim):
    """A 300-byte BLP claiming 84 million pixels (within the limit) took 700 MiB before
    its decoder found the data missing; a few hundred bytes of JPEG claiming 10000 x
    10000 were read as 100 million grey pixels (libjpeg fills what is missing) in 330
    MiB, or 900 MiB progressive. No codec packs that many pixels into so few bytes."""
    source = build(tmp_path / name)
    assert source.stat().st_size < 1000
    status, stderr, peak = imgconv_peak("identity", source, tmp_path / "out.png")
    line = one_line(stderr)
    assert status == 1 and f"{name}: truncated: its header claims {claim} pixels" in line
    assert peak < 150, f"{peak:.0f} MiB"
    assert not (tmp_path / "out.png").exists()


def test_arithmetic_coded_jpeg_has_no_such_bound(tmp_path):
    """Arithmetic coding spends far less than a bit on a predictable 8x8 block: a JPEG
    whose frame header says so (SOF9) is left to libjpeg, however short its data."""
    data = bytearray(jpeg_claiming(tmp_path / "in.jpg", 2000, 2000).read_bytes())
    data[data.index(b"\xff\xc0") + 1] = 0xC9
    (tmp_path / "in.jpg").write_bytes(data)
    result = run("identity", tmp_path / "in.jpg", tmp_path / "out.png")
    assert "truncated" not in result.stderr
    assert result.exit_code == 0 and load(tmp_path / "out.png")[1].shape == (2000, 2000, 3)


def _ppm(magic, body):
    return lambda side: f"{magic} {side} {side}\n".encode() + (b"255\n" if magic in ("P5", "P6") else b"") + body


def _bmp(side):
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 154, 0, 0, 54) + info + bytes(100)


def _tga(kind):
    return lambda side: struct.pack("<BBBHHBHHHHBB", 0, 0, kind, 0, 0, 0, 0, 0, side, side, 8, 0x20) + bytes(100)


def _tiff(compression, payload):
    def build(side):
        entries = [(256, 4, 1, side), (257, 4, 1, side), (258, 3, 1, 8), (259, 3, 1, compression), (262, 3, 1, 1),
                   (273, 4, 1, 8 + 2 + 12 * 9 + 4), (277, 3, 1, 1), (278, 4, 1, side), (279, 4, 1, len(payload))]
        directory = struct.pack("<H", 9) + b"".join(struct.pack("<HHII", *e) for e in entries) + bytes(4)
        return b"II*\0" + struct.pack("<I", 8) + directory + payload
    return build


def _dds(side):
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, "DDS")
    return buffer.getvalue()[:12] + struct.pack("<II", side, side) + buffer.getvalue()[20:]


def _png(side):
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + b"".join(struct.pack(">I", len(body)) + kind + body
                                          + struct.pack(">I", zlib.crc32(kind + body))
                                          for kind, body in [(b"IHDR", header), (b"IDAT", zlib.compress(bytes(5000))),
                                                             (b"IEND", b"")])


@pytest.mark.parametrize("name, build", [
    ("raw.bmp", _bmp), ("raw.ppm", _ppm("P6", bytes(100))), ("raw.pgm", _ppm("P5", bytes(100))),
    ("plain.pbm", _ppm("P1", b"0" * 100)), ("raw.tga", _tga(3)), ("rle.tga", _tga(11)),
    ("raw.tif", _tiff(1, bytes(100))), ("deflate.tif", _tiff(8, zlib.compress(bytes(5000)))),
    ("lzw.tif", _tiff(5, bytes(100))), ("packbits.tif", _tiff(32773, b"\x81\0" * 50)), ("in.png", _png),
    ("in.dds", _dds),
])
def test_each_format_with_a_bound_refuses_data_too_short_for_its_header(tmp_path, name, build):
    """Uncompressed data takes a bit a pixel at least, deflate yields 1032 bytes a byte at
    most, TGA's run-lengths 128 pixels for 2 bytes, ... (imgconv.io.claims). Each of these
    was refused only once its decoder ran out of data."""
    (tmp_path / name).write_bytes(build(10000))
    result = run("identity", tmp_path / name, tmp_path / "out.tif")
    assert result.exit_code == 1 and "truncated: its header claims 10000 x 10000 pixels" in one_line(
        result.stderr_bytes)


@pytest.mark.slow
def test_data_as_dense_as_the_codecs_allow_is_still_read(tmp_path):
    """Near the bounds: a blank G4 fax page (4,700 pixels a byte; the bound is 8 times
    its width, 13,824), a 1-bit PNG of zeros deflated at 9 (7,900 against 8,256), TGA
    run-lengths of 128 pixels in 2 bytes (64), 1-bit raw TIFF data (8), a flat JPEG: all
    are read."""
    blank = np.full((2000, 1728), 255, np.uint8)
    Image.fromarray(blank).convert("1").save(tmp_path / "fax.tif", compression="group4")
    Image.fromarray(blank).convert("1").save(tmp_path / "bits.tif")
    zeros = np.zeros((4000, 4000), bool)
    Image.fromarray(zeros).save(tmp_path / "zeros.png", optimize=True)
    assert zeros.size / (tmp_path / "zeros.png").stat().st_size > 7800
    flat = np.full((100, 1280), 77, np.uint8)
    Image.fromarray(flat).save(tmp_path / "flat.tga", compression="tga_rle")
    Image.fromarray(flat).save(tmp_path / "flat.jpg", quality=10)
    for name, expected in [("fax.tif", blank), ("bits.tif", blank), ("zeros.png", zeros.astype(np.uint8)),
                           ("flat.tga", flat), ("flat.jpg", load(tmp_path / "flat.jpg")[1])]:
        result = run("identity", tmp_path / name, tmp_path / "out.png")
        assert result.exit_code == 0, result.stderr
        assert np.array_equal(load(tmp_path / "out.png")[1], expected), name


def test_the_pixel_limit_counts_every_frame_and_can_be_lifted(tmp_path):
    frames = [Image.fromarray(np.full((20, 20), 60 * i, np.uint8)) for i in range(3)]
    frames[0].save(tmp_path / "three.gif", save_all=True, append_images=frames[1:])
    refused = run(*BLUR, "--max-pixels", 1000, tmp_path / "three.gif", tmp_path / "out.gif")
    # 400 pixels a frame: the third brings the frames read to 1200, and the line says so.
    assert refused.exit_code == 1 and one_line(refused.stderr_bytes) == (
        f"imgconv: error: {tmp_path / 'three.gif'}: its first 3 frames (20 x 20 the last) hold 1200 pixels, more than "
        "the limit of 1000 (--frame N reads one; --max-pixels N raises it; 0 lifts it)")
    assert run(*BLUR, "--max-pixels", 1000, "--frame", 2, tmp_path / "three.gif", tmp_path / "one.png").exit_code == 0
    assert load(tmp_path / "one.png")[1].shape[:2] == (20, 20)
    from_environment = CliRunner().invoke(cli, [*BLUR, str(CHELSEA), str(tmp_path / "a.png")],
                                          env={"IMGCONV_MAX_PIXELS": "1000"})
    assert from_environment.exit_code == 1 and "limit of 1000" in from_environment.stderr
    lifted = CliRunner().invoke(cli, [*BLUR, "--max-pixels", "0", str(CHELSEA), str(tmp_path / "b.png")],
                                env={"IMGCONV_MAX_PIXELS": "1000"})
    assert lifted.exit_code == 0 and load(tmp_path / "b.png")[1].shape == (300, 451, 3)


def test_a_npy_header_claiming_a_huge_shape(tmp_path):
    huge = npy_claiming(tmp_path / "huge.npy", (100000, 100000, 3))
    result, peak = run_measured(*BLUR, huge, tmp_path / "out.npy")
    assert result.exit_code == 1 and "--max-pixels" in one_line(result.stderr_bytes)
    assert peak < 8 << 20
    lying = npy_claiming(tmp_path / "lying.npy", (3000, 3000))
    result, peak = run_measured(*BLUR, "--max-pixels", 0, lying, tmp_path / "out.npy")
    assert result.exit_code == 1 and "truncated" in one_line(result.stderr_bytes) and peak < 8 << 20
    assert not (tmp_path / "out.npy").exists()


def test_npy_headers_numpy_would_parse_for_seconds_are_refused(tmp_path):
    """A header that is not a Python literal sends NumPy's parser through a tokenizer
    filter for Python 2 files, in time growing with its length squared (a damaged 9 KB
    header took 7 s): refused first by imgconv's own check, whose
    message NumPy's would not give. A short Python 2 header still reads."""
    damaged = b"{'descr': '<f4'" + b" " * 9300 + b"\x7f" + b"\n" * 18  # 9,334 bytes, the dict unclosed
    (tmp_path / "long.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(damaged)) + damaged
                                        + b"\0" * 64)
    result = run(*BLUR, tmp_path / "long.npy", tmp_path / "out.npy")
    assert result.exit_code == 1 and "header (9334 bytes) is not a Python literal" in one_line(result.stderr_bytes)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 4L), }".ljust(117) + "\n"
    values = np.arange(12, dtype="<f4").reshape(3, 4)
    (tmp_path / "python2.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
                                           + values.tobytes())
    result = run("identity", tmp_path / "python2.npy", tmp_path / "same.npy")
    assert result.exit_code == 0 and result.stderr == ""
    assert np.array_equal(np.load(tmp_path / "same.npy"), values)


def test_an_npy_header_nested_deep_is_refused_before_python_parses_it(tmp_path):
    """Python's parser raises MemoryError for brackets nested about 200 deep, so the
    refusal had a MemoryError behind it ; the nesting is now counted
    first. A numeric array's header nests 2 deep."""
    header = ("{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 200 + "4, 4" + ")" * 200 + ", }")
    header = header.ljust(64 * (len(header) // 64 + 1) - 11) + "\n"
    (tmp_path / "deep.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
                                        + b"\0" * 64)
    for args in ((*BLUR, tmp_path / "deep.npy", tmp_path / "out.png"),
                 ("convolve", "-k", tmp_path / "deep.npy", CHELSEA, tmp_path / "out.png")):
        result = run(*args)
        line = one_line(result.stderr_bytes)
        assert result.exit_code in (1, 2) and "deep.npy" in line and "nests 201 brackets deep" in line, line
    assert not (tmp_path / "out.png").exists()


def test_a_truncated_npy_header(tmp_path):
    (tmp_path / "cut.npy").write_bytes(npy_claiming(tmp_path / "whole.npy", (4, 4)).read_bytes()[:40])
    result = run(*BLUR, tmp_path / "cut.npy", tmp_path / "out.npy")
    assert result.exit_code == 1 and "cut.npy" in one_line(result.stderr_bytes)


@pytest.mark.slow
def test_an_endless_input_is_refused_after_its_first_piece():
    result = imgconv(*BLUR, "/dev/zero", "/dev/null")
    assert result.returncode == 1 and "not an image" in one_line(result.stderr)


# ------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize("args", [
    ["blur", "-s", "nan"], ["blur", "-s", "inf"], ["blur", "-s", "1", "--cval", "nan"],
    ["blur", "-s", "1", "--cval", "inf", "-b", "reflect"], ["sharpen", "--amount", "inf"],
    ["unsharp", "-s", "1", "--amount", "nan"], ["motion", "--angle", "nan"], ["motion", "--length", "inf"],
    ["convolve", "-k", "1 2 1", "--divisor", "nan"], ["convolve", "-k", "1 2 1", "--offset", "-inf"],
])
def test_options_refuse_nan_and_infinity(tmp_path, args):
    result = run(*args, CHELSEA, tmp_path / "out.png")
    assert result.exit_code == 2 and "finite" in one_line(result.stderr_bytes)
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("name, text, fragment", [
    ("offset.json", '{"kernel": [[1]], "offset": NaN}', "offset must be a finite number"),
    ("divisor.json", '{"kernel": [[1, 2, 1]], "divisor": Infinity}', "divisor must be a finite number"),
    ("nested.json", "[" * 100_000 + "]" * 100_000, "invalid JSON"),
    ("digits.json", "[[" + "9" * 5001 + "]]", "invalid JSON"),
    ("big.txt", "1e308 1e308 1e308\n" * 3, "beyond"),
    ("rows.txt", "1\n" * 2_000_000, "the largest is 1025x1025"),
])
def test_kernel_files_refuse_what_cannot_be_a_kernel(tmp_path, name, text, fragment):
    (tmp_path / name).write_text(text)
    result, peak = run_measured("convolve", "-k", tmp_path / name, CHELSEA, tmp_path / "out.png")
    assert result.exit_code == 2 and fragment in one_line(result.stderr_bytes)
    assert peak < 32 << 20 and not (tmp_path / "out.png").exists()


def test_a_npy_kernel_claiming_a_huge_shape(tmp_path):
    result, peak = run_measured("convolve", "-k", npy_claiming(tmp_path / "k.npy", (100000, 100000)), CHELSEA,
                                tmp_path / "out.png")
    assert result.exit_code == 2 and "the largest is 1025x1025" in one_line(result.stderr_bytes)
    assert peak < 8 << 20


def test_conv_weights_and_bias_refuse_lies_and_nan(tmp_path):
    huge = npy_claiming(tmp_path / "w.npy", (100000, 1, 1000, 1000))
    result, peak = run_measured("conv-layer", "--weights", huge, CHELSEA, tmp_path / "maps.npy")
    assert result.exit_code == 2 and "truncated" in one_line(result.stderr_bytes) and peak < 8 << 20
    np.save(tmp_path / "nan.npy", np.full((1, 3, 3, 3), np.nan))
    result = run("conv-layer", "--weights", tmp_path / "nan.npy", CHELSEA, tmp_path / "maps.npy")
    assert result.exit_code == 2 and "NaN" in one_line(result.stderr_bytes)
    result = run("conv-layer", "-k", "1 0 -1", "--bias", "nan", CHELSEA, tmp_path / "maps.npy")
    assert result.exit_code == 2 and "NaN" in one_line(result.stderr_bytes)
    assert not (tmp_path / "maps.npy").exists()


def test_a_npy_image_of_nan_goes_only_where_floats_go(tmp_path):
    values = np.full((8, 8), np.nan, np.float32)
    values[2:6, 2:6] = 100
    np.save(tmp_path / "nan.npy", values)
    result = run(*BLUR, "--depth", 8, tmp_path / "nan.npy", tmp_path / "out.png")
    line = one_line(result.stderr_bytes)
    assert result.exit_code == 1 and "NaN" in line and line.startswith(f"imgconv: error: {tmp_path / 'nan.npy'}: ")
    assert "out.png" not in line  # the input holds the bad numbers, not the output
    assert not (tmp_path / "out.png").exists()
    refused = run(*BLUR, tmp_path / "nan.npy", tmp_path / "out.npy")  # --nan refuse, the default
    line = one_line(refused.stderr_bytes)
    assert refused.exit_code == 1 and line.startswith(f"imgconv: error: {tmp_path / 'nan.npy'}: ")
    assert not (tmp_path / "out.npy").exists()
    assert run(*BLUR, "--nan", "interpolate", tmp_path / "nan.npy", tmp_path / "out.tif").exit_code == 0
    kept = tifffile.imread(tmp_path / "out.tif")
    # Every output covers some of the valid samples, all 100: their mean.
    np.testing.assert_allclose(kept, 100, rtol=1e-5)


@pytest.mark.parametrize("args, fragment", [
    (["blur", "-r", "1000000000"], "the widest is 200001"),
    (["blur", "-s", "1e300"], "of sigma 1e+300 would be wider than the widest, 200001 taps"),
    (["blur", "-s", "1e308"], "of sigma 1e+308 would be wider than the widest, 200001 taps"),  # 3 sigma: inf
    (["blur", "-s", "1e307,1"], "of sigma 1e+307 would be wider than the widest, 200001 taps"),
    (["box", "--kernel-size", "1e9"], "not a valid integer"),
    (["motion", "-l", "1e9"], "too long"),
])
def test_absurd_sizes_are_one_line_at_once(tmp_path, args, fragment):
    result, peak = run_measured(*args, CHELSEA, tmp_path / "out.png")
    assert result.exit_code == 2 and fragment in one_line(result.stderr_bytes)
    assert peak < 8 << 20 and not (tmp_path / "out.png").exists()
