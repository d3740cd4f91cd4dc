"""An input's header read once, to say whether it is streamed tile by tile.

A tiled TIFF or a Zarr store written to a TIFF file or a Zarr store is streamed
(`imgconv.stream.run`); every other input is decoded whole (`imgconv.io.read`). The
outputs streamed to are told by their names alone (`output_kind`): only for those is an
input probed, and are the modules of tiled images loaded. The probe reads a TIFF's
header with tifffile once and checks its tiled pages then, so that the streaming does
not open the file again. What checking refused is kept and raised when the image is
streamed, after the refusals that come first there (an output that cannot be streamed
to, ``--view``), as they always came.
"""

import os
import stat
from dataclasses import dataclass

from ..errors import ImgconvError
from .sink import STDIO
from .source import open_input
from .tiffinfo import TIFF_MAGIC
from .tiled_image import ZARR, Path, TiledImage, is_zarr
from .write import output_format


def output_kind(dest: Path, format: str | None = None) -> str | None:
    """``"TIFF"`` or ``"ZARR"`` when ``dest`` is written tile by tile, else None (standard
    output, other formats, and names whose format cannot be told)."""
    if dest == STDIO:
        return None
    if is_zarr(dest):
        return ZARR
    try:
        return "TIFF" if output_format(dest, format, "TIFF") == "TIFF" else None
    except ImgconvError:
        return None


def streamed_probe(source: Path, dest: Path, format: str | None = None, frame: int | None = None,
                   max_pixels: int = 0, auto_orient: bool = True) -> "Probe | None":
    """The `Probe` of ``source`` (for ``frame``, ``max_pixels`` and ``auto_orient``)
    when `imgconv.pipeline.process_file` streams it to ``dest`` through
    `imgconv.stream.run` (a Zarr store or tiled TIFF, to a TIFF file or a Zarr store),
    for `imgconv.stream.run.process_tiled` to take; else None. A source is not opened
    for other outputs."""
    if output_kind(dest, format) is None:
        return None
    probed = probe(source, frame, max_pixels, auto_orient)
    return probed if probed.tiled else None


@dataclass(frozen=True)
class Probe:
    """What an input's header says.

    Attributes
    ----------
    format : str, optional
        ``"TIFF"`` for a TIFF whose header (and page asked for) tifffile reads,
        ``"ZARR"`` for a Zarr store; None for what only the whole image's reader tells.
    tiled : bool
        Whether it is read by rows of tiles: a Zarr store, or a TIFF whose page asked
        for (the first, by default) is tiled.
    images : tuple of TiledImage
        Its tiled pages (or array), checked, when ``tiled`` and nothing was refused.
    refusal : ImgconvError, optional
        What checking its tiled pages refused.
    """

    format: str | None = None
    tiled: bool = False
    images: tuple[TiledImage, ...] = ()
    refusal: ImgconvError | None = None

    def checked(self) -> list[TiledImage]:
        """The tiled images, or what checking them refused, raised."""
        if self.refusal is not None:
            raise self.refusal
        return list(self.images)


def probe(source: Path, frame: int | None = None, max_pixels: int = 0, auto_orient: bool = True) -> Probe:
    """The `Probe` of ``source`` (``"-"``: standard input, never tiled): its tiled
    images checked as `imgconv.io.tiff_tiles.open_tiff` and
    `imgconv.io.zarr_store.open_zarr` check them, for ``frame``, ``max_pixels`` and
    ``auto_orient``.

    A file that is not a TIFF, or whose header or page ``frame`` tifffile cannot read,
    is not tiled: the whole image's reader says what is wrong with it. Nor is anything
    but a regular file: a FIFO is not even opened, as a reader that comes and goes
    breaks the pipe of a writer waiting for the image's reader (and the file is opened
    without waiting, see `imgconv.io.source.open_input`, should a FIFO take its name in
    between).
    """
    if source == STDIO:
        return Probe()
    if is_zarr(source):
        from .zarr_store import open_zarr

        try:
            return Probe(ZARR, True, (open_zarr(source, max_pixels, frame),))
        except ImgconvError as exc:
            return Probe(ZARR, True, refusal=exc)
    name = os.fspath(source)
    try:
        if not stat.S_ISREG(os.stat(source).st_mode):
            return Probe()
        with open_input(source, name, only_regular=True) as file:
            if file.read(4) not in TIFF_MAGIC:
                return Probe()
            file.seek(0)
            import tifffile

            from .tiff_tiles import corrupt, streamable, tiff_pages

            with tifffile.TiffFile(file, name=os.path.basename(source)) as tiff:
                page = tiff.pages[frame or 0]
                if not page.is_tiled or not streamable(page):
                    return Probe("TIFF")
                try:
                    pages = tiff_pages(tiff, name, os.fstat(file.fileno()).st_size, frame, max_pixels, auto_orient)
                except ImgconvError as exc:
                    return Probe("TIFF", True, refusal=exc)
                except Exception as exc:
                    return Probe("TIFF", True, refusal=corrupt(name, exc))
                return Probe("TIFF", True, tuple(pages))
    except Exception:  # missing, damaged, no such page, not a file: not this module's to say
        return Probe()
