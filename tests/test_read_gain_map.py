"""JPEG photos with an HDR gain map: MPOs written here by Pillow, their XMP added as
Apple writes it (``HDRGainMap`` in the gain map's XMP) or as Android's Ultra HDR does
(``hdrgm`` in the photo's, which Pillow then opens as a plain JPEG). The photo is
checked against Pillow's first image, the gain map against Pillow's decoding of the
second JPEG's bytes."""

import io

import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image

import imgconv
from imgconv.io.read import decode_image

_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_APPLE = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
          b'<rdf:Description xmlns:HDRGainMap="http://ns.apple.com/HDRGainMap/1.0/" '
          b'HDRGainMap:HDRGainMapVersion="131072"/></rdf:RDF></x:xmpmeta>')
_ULTRA_HDR = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/" hdrgm:Version="1.0"/>'
              b'</rdf:RDF></x:xmpmeta>')
_STEREO = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/jpeg"/>'
           b'</rdf:RDF></x:xmpmeta>')


def _with_xmp(data: bytes, at: int, xmp: bytes) -> bytes:
    """``data`` with an APP1 XMP segment just after the SOI of the JPEG at ``at``. MPF's
    offsets count from the photo's MP header, so inserting before it (in the photo) or
    after it (in the second image) leaves them right."""
    payload = _XMP_HEADER + xmp
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return data[:at + 2] + segment + data[at + 2:]


def _mpo(rng, gain_size: tuple[int, int], xmp: bytes, in_photo: bool) -> tuple[bytes, np.ndarray]:
    """An MPO of a 24x16 RGB photo and a grey gain map of ``gain_size`` (width, height),
    ``xmp`` in the photo's header or the gain map's, and the gain map's samples as Pillow
    decodes its JPEG alone."""
    photo = Image.fromarray(rng.integers(0, 256, (16, 24, 3), dtype=np.uint8))
    gain = Image.fromarray(rng.integers(0, 256, gain_size[::-1], dtype=np.uint8))
    out = io.BytesIO()
    photo.save(out, "MPO", save_all=True, append_images=[gain], quality=95)
    data = out.getvalue()
    second = data.rindex(b"\xff\xd8\xff")
    with Image.open(io.BytesIO(data[second:])) as alone:
        gain_samples = np.asarray(alone)
    return _with_xmp(data, 0 if in_photo else second, xmp), gain_samples


def _photo(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


@pytest.mark.parametrize(("xmp", "in_photo"), [(_APPLE, False), (_ULTRA_HDR, True), (_ULTRA_HDR, False)],
                         ids=["apple", "ultra-hdr", "hdrgm-in-gain-map"])
def test_a_gain_map_is_read_as_a_second_frame_after_the_photo(rng, xmp, in_photo):
    data, gain = _mpo(rng, (12, 8), xmp, in_photo)
    with Image.open(io.BytesIO(data)) as image:  # Pillow leaves an Ultra HDR photo's gain map unread
        assert getattr(image, "n_frames", 1) == (1 if xmp == _ULTRA_HDR and in_photo else 2)
    picture = decode_image(data, "in.jpg")
    assert picture.encoding["gain_map"] is True
    assert [f.shape for f in picture.frames] == [(16, 24, 3), (8, 12, 3)]
    np.testing.assert_array_equal(picture.frames[0], _photo(data))
    for channel in range(3):  # the grey gain map widened to the photo's RGB
        np.testing.assert_array_equal(picture.frames[1][..., channel], gain)


def test_an_mpo_without_gain_map_xmp_is_read_as_before(rng):
    data, _ = _mpo(rng, (24, 16), _STEREO, in_photo=False)
    picture = decode_image(data, "in.mpo")
    assert "gain_map" not in picture.encoding and len(picture.frames) == 2


@pytest.mark.parametrize("gain_size", [(12, 8), (24, 16)], ids=["smaller", "same-size"])
@pytest.mark.parametrize("output", ["out.png", "out.jpg", "out.npy"])
def test_an_output_of_one_image_is_refused_naming_the_gain_map(tmp_path, rng, gain_size, output):
    data, _ = _mpo(rng, gain_size, _ULTRA_HDR, in_photo=True)
    (tmp_path / "in.jpg").write_bytes(data)
    result = run("identity", tmp_path / "in.jpg", tmp_path / output)
    width, height = gain_size
    kind = {"out.png": "PNG", "out.jpg": "JPEG", "out.npy": ".npy"}[output]
    assert_one_line_error(result, 1)
    assert result.stderr.strip() == (
        f"imgconv: error: {tmp_path / output}: a JPEG photo with an HDR gain map (a {width}x{height} second "
        f"image); {kind} holds one image: give --frame 0 for the photo without its gain map, or write TIFF "
        "to keep both")
    assert list(tmp_path.iterdir()) == [tmp_path / "in.jpg"]


def test_frame_0_gives_the_photo_and_tiff_keeps_both_as_pages(tmp_path, rng):
    data, gain = _mpo(rng, (12, 8), _APPLE, in_photo=False)
    (tmp_path / "in.jpg").write_bytes(data)
    assert run("identity", "--frame", 0, tmp_path / "in.jpg", tmp_path / "photo.png").exit_code == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "photo.png")), _photo(data))
    assert run("identity", tmp_path / "in.jpg", tmp_path / "both.tif").exit_code == 0
    with tifffile.TiffFile(tmp_path / "both.tif") as tiff:
        pages = [page.asarray() for page in tiff.pages]
        # The gain map's XMP is not the photo's: Pillow merges each image's header into one info.
        assert all(700 not in page.tags for page in tiff.pages)
    np.testing.assert_array_equal(pages[0], _photo(data))
    np.testing.assert_array_equal(pages[1], np.repeat(gain[..., None], 3, axis=2))


def test_imread_gives_the_photo_and_refuses_to_stack_it_with_its_gain_map(tmp_path, rng):
    data, _ = _mpo(rng, (24, 16), _ULTRA_HDR, in_photo=True)
    (tmp_path / "in.jpg").write_bytes(data)
    np.testing.assert_array_equal(imgconv.imread(tmp_path / "in.jpg"), _photo(data))
    with pytest.raises(imgconv.InvalidInputError, match=r"a JPEG photo with an HDR gain map \(a 24x16 second image\); "
                       r"give frame=0"):
        imgconv.imread(tmp_path / "in.jpg", frame=None)


def test_frame_0_to_jpeg_keeps_the_photos_quantization_tables(tmp_path, rng):
    data, _ = _mpo(rng, (12, 8), _ULTRA_HDR, in_photo=True)
    (tmp_path / "in.jpg").write_bytes(data)
    assert run("identity", "--frame", 0, tmp_path / "in.jpg", tmp_path / "photo.jpg").exit_code == 0
    with Image.open(io.BytesIO(data)) as photo, Image.open(tmp_path / "photo.jpg") as written:
        assert written.quantization == photo.quantization
