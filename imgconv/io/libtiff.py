"""libtiff's complaints, as Pillow's TIFF decoder meets them: errors collected per decode
(a damaged file is refused), nothing printed on stderr."""

import contextvars
import functools
import re
from dataclasses import dataclass

from ..errors import ImageReadError

# libtiff's errors that leave the pixels as they are: a ResolutionUnit it does not know
# (libtiff drops the tag; Pillow reads the resolution itself, and decoding does not use it).
_LIBTIFF_HARMLESS = re.compile(r'Bad value \d+ for "ResolutionUnit" tag')


# Where va_list, the handlers' last argument, is passed as a pointer that vsnprintf takes
# back (an array decayed to a pointer on x86-64; a large struct passed by reference on
# AArch64). Elsewhere a message is kept unformatted.
_VA_LIST_IS_POINTER = ("x86_64", "AMD64", "aarch64", "arm64")


# The ctypes callbacks libtiff holds, kept for the life of the process: a collected one
# would leave libtiff calling freed memory.
_libtiff_handlers: list = []


@functools.cache
def libtiff_error_log() -> "contextvars.ContextVar[LibtiffErrors]":
    """The list libtiff's errors go to in the `decode_image` call running in this
    context (a thread's own), installed once as the error handler of the libtiff Pillow
    loaded.

    libtiff's fax decoders report a bad code word as an error, fill the damaged line
    and carry on: Pillow gets no failure and returns the image with the lines made up.
    Errors are therefore recorded, and `decode_image` refuses a TIFF that had any.
    Outside a decode (writing, another program's calls) they are dropped, and warnings
    always are (a tag libtiff does not know, a strip it re-estimates): libtiff's default
    handlers print both on stderr, beside imgconv's one-line error. Where libtiff
    cannot be found (not Linux), nothing is recorded and libtiff keeps its handlers.
    """
    import ctypes
    import platform

    errors: contextvars.ContextVar[LibtiffErrors] = contextvars.ContextVar("imgconv_libtiff_errors")
    handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
    vsnprintf = None
    if platform.machine() in _VA_LIST_IS_POINTER:
        vsnprintf = ctypes.CDLL(None).vsnprintf
        vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]

    def record(module: bytes | None, fmt: bytes | None, args: int | None) -> None:
        found = errors.get(None)
        if found is None or fmt is None:
            return
        text = fmt
        if vsnprintf is not None:
            buffer = ctypes.create_string_buffer(512)
            vsnprintf(buffer, len(buffer), fmt, args)
            text = buffer.value
        found.add(text.decode("utf-8", "replace"))

    def drop(module: bytes | None, fmt: bytes | None, args: int | None) -> None:
        pass

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libtiff" in line}
    except OSError:
        return errors
    _libtiff_handlers.extend([handler_type(record), handler_type(drop)])
    for path in paths:
        try:
            library = ctypes.CDLL(path)  # the copy already loaded: dlopen hands it back
        except OSError:
            continue
        library.TIFFSetErrorHandler.argtypes = library.TIFFSetWarningHandler.argtypes = [handler_type]
        library.TIFFSetErrorHandler.restype = library.TIFFSetWarningHandler.restype = ctypes.c_void_p
        library.TIFFSetErrorHandler(_libtiff_handlers[0])
        library.TIFFSetWarningHandler(_libtiff_handlers[1])
    return errors


@dataclass
class LibtiffErrors:
    """The errors libtiff reported during one decode: the first that matters, and how
    many more (a damaged fax can have one a line)."""

    first: str | None = None
    more: int = 0

    def add(self, error: str) -> None:
        if _LIBTIFF_HARMLESS.search(error):
            return
        if self.first is None:
            self.first = error
        else:
            self.more += 1

    def check(self, name: str) -> None:
        """Refuse the TIFF libtiff reported an error about."""
        if self.first is not None:
            more = f", {self.more + 1} errors in all" if self.more else ""
            raise ImageReadError(f"{name}: damaged TIFF data (libtiff: {self.first}{more})")
