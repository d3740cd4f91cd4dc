"""JPEG 2000 files the decoders cannot read are refused for what they lack, not as
damage; the files are Pillow's, their SIZ marker altered here."""

import io

import numpy as np
import pytest
from PIL import Image

from imgconv.errors import ImageReadError
from imgconv.io.read import decode_image


@pytest.mark.parametrize("bare", [True, False], ids=["j2k", "jp2"])
def test_subsampled_components_are_unsupported_not_corrupt(bare):
    """A component sampled every 2nd pixel across (SIZ's XRsiz 2), which Pillow's
    decoder reports as a broken data stream and imagecodecs' as unsupported."""
    out = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8)).save(out, "JPEG2000", no_jp2=bare)
    data = bytearray(out.getvalue())
    siz = data.find(b"\xff\x4f\xff\x51")
    data[siz + 42 + 1] = 2  # the first component's XRsiz
    with pytest.raises(ImageReadError) as caught:
        decode_image(bytes(data), "t.jp2")
    assert str(caught.value) == ("t.jp2: unsupported by the decoders imgconv uses: its JPEG 2000 components are "
                                 "sampled every 2 x 1 pixels")
