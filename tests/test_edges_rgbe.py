"""Radiance HDR files built here, flat and run-length coded, read as 32-bit float RGB
equal to the shared-exponent formula worked out by hand, and kept in a float TIFF
(read back by tifffile); a header claiming more pixels than the file can hold, or
XYZ samples, refused in one line."""

import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run

from imgconv.io.read import decode_image


def radiance(rgbe: np.ndarray, *, coded: bool, header: bytes = b"FORMAT=32-bit_rle_rgbe\n") -> bytes:
    """A Radiance file of (H, W, 4) RGBE bytes, its rows flat or run-length coded (each
    channel in literal packets of up to 127 bytes, but a repeated byte as a run)."""
    height, width = rgbe.shape[:2]
    out = [b"#?RADIANCE\n", header, b"\n", f"-Y {height} +X {width}\n".encode()]
    for row in rgbe:
        if not coded:
            out.append(row.tobytes())
            continue
        out.append(bytes([2, 2, width >> 8, width & 0xFF]))
        for channel in row.T:
            for start in range(0, width, 127):
                piece = channel[start : start + 127]
                out.append(bytes([128 + len(piece), piece[0]]) if (piece == piece[0]).all() and len(piece) > 1
                           else bytes([len(piece)]) + piece.tobytes())
    return b"".join(out)


def floats(rgbe: np.ndarray) -> np.ndarray:
    """The shared exponent: m * 2**(e - 136), 0 where e is 0."""
    exponent = rgbe[..., 3:].astype(np.float64)
    values = rgbe[..., :3] * np.exp2(exponent - 136)
    return np.where(exponent == 0, 0, values).astype(np.float32)


@pytest.mark.parametrize(("width", "coded"), [(5, False), (300, True)])
def test_a_radiance_file_is_read_as_its_floats(tmp_path, rng, width, coded):
    rgbe = rng.integers(0, 256, (3, width, 4), dtype=np.uint8)
    rgbe[0, :, 3] = 0  # zero
    rgbe[1, :140] = rgbe[1, 0]  # runs
    data = radiance(rgbe, coded=coded)
    picture = decode_image(data, "in.hdr")
    assert picture.mode == "RGB;float32" and np.array_equal(picture.frames[0], floats(rgbe))
    (tmp_path / "in.hdr").write_bytes(data)
    assert run("identity", tmp_path / "in.hdr", tmp_path / "out.tif").exit_code == 0
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), floats(rgbe))


def test_a_radiance_header_claiming_more_than_the_file_holds_is_refused(tmp_path, rng):
    rgbe = rng.integers(0, 256, (2, 300, 4), dtype=np.uint8)
    data = radiance(rgbe, coded=True).replace(b"-Y 2 +X 300", b"-Y 20000 +X 300")
    (tmp_path / "in.hdr").write_bytes(data)
    result = run("identity", tmp_path / "in.hdr", tmp_path / "out.tif")
    assert_one_line_error(result, 1, "in.hdr: truncated: its header claims 300 x 20000 pixels")


def test_xyz_samples_are_refused_not_read_as_rgb(tmp_path, rng):
    data = radiance(rng.integers(0, 256, (2, 3, 4), dtype=np.uint8), coded=False,
                    header=b"FORMAT=32-bit_rle_xyze\n")
    (tmp_path / "in.hdr").write_bytes(data)
    result = run("identity", tmp_path / "in.hdr", tmp_path / "out.tif")
    assert_one_line_error(result, 1, "in.hdr", "XYZ")
