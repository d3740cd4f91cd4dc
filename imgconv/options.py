"""What `imgconv.pipeline.process_file` reads and writes: the options of one file, as
two frozen records, `ReadOptions` and `WriteOptions` (whose encoding is
`imgconv.io.write.EncodeOptions`). The engine's are `imgconv.engine.EngineOptions`;
both are named here too, so that one module gives every record a command is made of.

A new option is a field here, the CLI option that sets it (`imgconv.cli.sections`), and
the code that uses it.
"""

from dataclasses import dataclass

from .engine import EngineOptions
from .io.write import EncodeOptions
from .vocabulary import DEFAULT_MAX_PIXELS

__all__ = ["EncodeOptions", "EngineOptions", "ReadOptions", "WriteOptions"]


@dataclass(frozen=True)
class ReadOptions:
    """How an input is read.

    Attributes
    ----------
    frame : int, optional
        Filter only this frame of an animation or page of a TIFF (0-based); default all.
    auto_orient : bool
        Apply the input's EXIF orientation before filtering and write the result upright.
    max_pixels : int
        Refuse an input of more pixels, from its header (see `imgconv.io.read.read_image`);
        0 lifts the limit. A tiled input streamed to a tiled output is bounded by what is
        decoded at once instead (`imgconv.stream.run.process_tiled`).
    only_regular : bool
        Refuse an input that is not a regular file (or a Zarr store), as a batch does
        (see `imgconv.io.read.read_image`).
    """

    frame: int | None = None
    auto_orient: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS
    only_regular: bool = False


@dataclass(frozen=True)
class WriteOptions:
    """How a result is written.

    Attributes
    ----------
    format : str, optional
        Output format when the destination's extension does not give one (see
        `imgconv.io.formats.names`).
    depth : int, optional
        8 or 16: bits a sample of an image output (see `imgconv.io.depth.change_depth`);
        default the input's.
    view : str
        ``result``, ``side-by-side`` or ``thumbnail`` (see `imgconv.views`); image
        outputs only.
    background : str or (int, int, int), optional
        Composite an image with alpha over this colour (see
        `imgconv.pipeline.parse_background`) after filtering, and write it without
        alpha. Without it, alpha the output format cannot hold is dropped when every
        pixel is opaque, and refused otherwise.
    tile_size : (int, int), optional
        Tiles (chunks) of a streamed TIFF or Zarr output; default the input's.
    sync : bool
        Sync the output to disk before it takes its name (``fsync``), and its folder
        after, so that a power loss leaves the old output or the new one
        (`imgconv.io.sink`); False skips both, for scratch work.
    srgb : bool
        Convert colours an ICC profile (or a PNG's gAMA and cHRM) describes other than
        as sRGB, and CMYK, to sRGB before filtering (`imgconv.io.srgb.to_srgb`), and
        write them without a profile; sRGB colours are left as they are. Without it, a
        format that cannot carry the description refuses them (see
        `imgconv.io.write.check_writable`).
    encoding : imgconv.io.write.EncodeOptions
        Quality, chroma subsampling, PNG compression level, compression and ``strip``.
        Its ``compression`` is also a streamed Zarr output's (see
        `imgconv.stream.run.process_tiled`), and ``strip`` leaves a streamed TIFF
        output's XMP out.
    """

    format: str | None = None
    depth: int | None = None
    view: str = "result"
    background: str | tuple[int, int, int] | None = None
    tile_size: tuple[int, int] | None = None
    sync: bool = True
    srgb: bool = False
    encoding: EncodeOptions = EncodeOptions()
