"""One image file through one filter: read, filter, encode, write atomically.

This is what every filter command of the CLI does for each input; Python users get
the same result with `process_file`.
"""

import os

from .errors import InvalidInputError
from .filters import filter_picture
from .imageio import NPY, STDIO, check_destination, encode_image, output_format, read_image, write_bytes
from .views import compose
from .vocabulary import DEFAULT_COMPRESS_LEVEL


def process_file(source, dest, filt, *, format=None, quality=None, compress_level=DEFAULT_COMPRESS_LEVEL,
                 view="result", threads=None, in_place=False):
    """Apply a `Filter` to the image ``source`` and write the result to ``dest``.

    Parameters
    ----------
    source, dest : str or os.PathLike
        Files, or ``"-"`` for standard input and output.
    filt : imgconv.filters.Filter
    format : str, optional
        Output format when ``dest``'s extension does not give one (see `imgconv.vocabulary.FORMATS`).
    quality : int, optional
        JPEG and WebP quality, 1-100.
    compress_level : int
        PNG zlib level, 0-9.
    view : str
        ``result``, ``side-by-side`` or ``thumbnail`` (see `imgconv.views`); image
        outputs only.
    threads : int, optional
        Threads encoding a PNG; default all CPUs. (The filter's own threads are set
        when it is made.)
    in_place : bool
        Allow ``dest`` to be ``source`` itself.

    Returns
    -------
    str
        The output format written.
    """
    if not in_place and _same_file(source, dest):
        raise InvalidInputError(f"{dest}: output is the input file; give --in-place to overwrite it")
    check_destination(dest)
    picture = read_image(source)
    fmt = output_format(dest, format, picture.format)
    if view != "result" and fmt == NPY:
        raise InvalidInputError(f"{dest}: --view {view} makes a picture; a .npy output holds the raw result")
    samples = filter_picture(picture, filt, None if fmt == NPY else picture.sample_dtype)
    samples = compose(picture.pixels, samples, view, picture.sample_max)
    name = "<stdout>" if dest == STDIO else os.fspath(dest)
    write_bytes(encode_image(samples, picture, fmt, quality, compress_level, name, threads), dest)
    return fmt


def _same_file(source, dest):
    if STDIO in (source, dest):
        return False
    try:
        return os.path.samefile(source, dest)
    except OSError:
        return os.path.abspath(source) == os.path.abspath(dest)
