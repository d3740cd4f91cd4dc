"""Hostile files and what they bring: a Zarr store whose files are links leading outside
it, which would have another file's bytes (another user's secret, read as root) read as
samples and written out; control characters in the demo's error lines."""

import os

import numpy as np
import pytest
from helpers import assert_one_line_error, run

zarr = pytest.importorskip("zarr")


@pytest.fixture
def store(tmp_path, rng):
    """in.zarr: an 8x8 uint8 array in one uncompressed chunk (format 2), and secret, 64 bytes beside it."""
    image = rng.integers(0, 256, (8, 8)).astype(np.uint8)
    array = zarr.create_array(tmp_path / "in.zarr", shape=(8, 8), chunks=(8, 8), dtype="uint8", zarr_format=2,
                              compressors=None)
    array[:] = image
    (tmp_path / "secret").write_bytes(bytes(range(100, 164)))
    return tmp_path, image


@pytest.mark.parametrize("linked", ["0.0", ".zarray"])
def test_a_zarr_store_file_linked_outside_the_store_is_refused(store, linked):
    tmp, _ = store
    if linked == ".zarray":
        os.rename(tmp / "in.zarr" / ".zarray", tmp / "zarray")
        (tmp / "in.zarr" / ".zarray").symlink_to(tmp / "zarray")
    else:
        (tmp / "in.zarr" / "0.0").unlink()
        (tmp / "in.zarr" / "0.0").symlink_to(tmp / "secret")
    result = run("identity", tmp / "in.zarr", tmp / "out.npy")
    assert_one_line_error(result, 1, f"{tmp}/in.zarr: holds a link leading outside the Zarr store; not read")
    assert not (tmp / "out.npy").exists()


def test_a_zarr_store_file_linked_inside_the_store_is_read(store):
    tmp, image = store
    os.rename(tmp / "in.zarr" / "0.0", tmp / "in.zarr" / "kept")
    (tmp / "in.zarr" / "0.0").symlink_to("kept")
    result = run("identity", tmp / "in.zarr", tmp / "out.npy")
    assert result.exit_code == 0, result.stderr
    assert np.array_equal(np.load(tmp / "out.npy"), image)


def test_the_demo_prints_no_control_character_a_failure_brought(capsys):
    """The demo's own error lines (a request that failed unexpectedly) escape control
    characters, as the command line's do: a message quoting what a request sent cannot
    set the terminal's title."""
    from imgconv.demo import make_server

    server = make_server()
    try:
        try:
            raise ValueError("bad \x1b]0;title\x07 request")
        except ValueError:
            server.handle_error(None, None)
    finally:
        server.server_close()
    assert capsys.readouterr().err == "imgconv: error: demo: ValueError: bad \\033]0;title\\a request\n"
