"""Rows of a tiled TIFF page or a Zarr array, decoded from the tiles that hold them, and
a Zarr store decoded whole for outputs that are not written tile by tile."""

import numpy as np

from ..errors import ImageReadError, ImgconvError, PixelLimitError
from .picture import Picture
from .tiff_tiles import read_tiff_rows
from .tiled_image import ZARR, Path, TiledImage
from .zarr_store import open_array, open_zarr

STREAM_HINT = ("only the filter commands stream a tiled TIFF or Zarr input, tile by tile, to a .tif or .zarr "
               "output")


def read_picture(path: Path, frame: int | None = None, max_pixels: int = 0) -> Picture:
    """A Zarr store decoded whole, as `imgconv.io.read_image` decodes a file
    (refused over ``max_pixels``): for outputs that are not written tile by tile."""
    image = open_zarr(path, frame=frame)
    if max_pixels and image.pixels > max_pixels:
        raise PixelLimitError(f"{image.name}: {image.shape[1]} x {image.shape[0]} is more pixels than the limit of "
                              f"{max_pixels} (--max-pixels N raises it; 0 lifts it); {STREAM_HINT}")
    return Picture([read_rows(image, 0, image.shape[0])], image.mode, ZARR, name=image.name)


def read_rows(image: TiledImage, top: int, bottom: int) -> np.ndarray:
    """Rows ``top ... bottom - 1`` of ``image`` (a `TiledImage`), decoded from the tiles
    that hold them. Opens the file itself, so that it runs on any thread or worker."""
    try:
        if image.kind == ZARR:
            return np.asarray(open_array(image.path)[top:bottom])
        return read_tiff_rows(image, top, bottom)
    except ImgconvError:
        raise
    except Exception as exc:
        raise ImageReadError(f"{image.name}: corrupt or truncated tile data ({' '.join(str(exc).split())})") from None
