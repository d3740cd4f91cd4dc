"""The files a batch takes from a folder, told by their extensions one at a time."""

from PIL import Image

from imgconv.batch.plan import is_readable_extension
from imgconv.io import formats


def test_each_extension_is_taken_as_all_of_pillows_plugins_say():
    everything = formats.readable_extensions()
    extensions = [*Image.registered_extensions(), ".npy", ".txt", ".xmp", ".json", ".cr2", ""]
    assert {e for e in extensions if is_readable_extension(e)} == everything & set(extensions)
    assert {".jpg", ".png", ".tif", ".npy"} <= everything
