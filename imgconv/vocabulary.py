"""The names users type, importable without NumPy so that the command line starts fast.

Boundary modes are those of ``scipy.ndimage``; each extends the row ``a b c d`` as::

    reflect   d c b a | a b c d | d c b a   (edge sample repeated)
    mirror      d c b | a b c d | c b a     (edge sample not repeated)
    nearest     a a a | a b c d | d d d
    wrap        a b c | a b c d | a b c
    constant    k k k | a b c d | k k k     (k = cval)
"""

from .errors import BoundaryError

METHODS = ("auto", "direct", "separable", "fft", "running-sums")

VIEWS = ("result", "side-by-side", "thumbnail")

# The forms `imgconv.kernelfile.format_kernel` writes (--print-kernel --as).
KERNEL_FORMATS = ("text", "imagemagick", "vips", "numpy")

# Compression level for PNG (libdeflate's for imgconv's own writer): on the blurred 4K
# photo of benchmarks/engine_vs_peers.py, level 1 writes 4.89 MB in 91 ms, level 2
# 4.78 MB in 131 ms, Pillow's default 6 (zlib) 4.7 MB in about 1.5 s; vips writes 10 MB.
DEFAULT_COMPRESS_LEVEL = 1

# Pillow refuses images of more than twice its MAX_IMAGE_PIXELS (89,478,485) as
# decompression bombs; imgconv's --max-pixels defaults to the same, and counts every
# frame read, since all are held at once.
DEFAULT_MAX_PIXELS = 2 * 89_478_485

# The most pixels `imgconv demo` takes in an upload: a 3840x2160 frame. A 16-bit RGBA
# picture blurred side by side, the costliest, peaks at 84 bytes a pixel (965 MiB for a
# 12 MP one); at this size, the demo's heaviest test load peaked at 843-850 MiB, within
# the 1 GiB the demo keeps to.
DEFAULT_MAX_UPLOAD_PIXELS = 3840 * 2160

MODES = ("reflect", "mirror", "nearest", "wrap", "constant")

TRUNCATE = "truncate"
"""A boundary mode beyond scipy's: outside the image counts as missing, and each output
is the weighted mean over the part of the kernel inside the image (vImage's truncated
kernel; see `imgconv.engine.truncate`). It needs the whole image at once, so only the
calls that take ``truncate=True`` in `resolve_mode` accept it."""

ALIASES = {
    "symmetric": "reflect",
    "reflect101": "mirror",
    "reflect_101": "mirror",
    "edge": "nearest",
    "replicate": "nearest",
    "clamp": "nearest",
    "periodic": "wrap",
    "circular": "wrap",
    "fill": "constant",
    "zero": "constant",
}

def resolve_mode(name: str, cval: float = 0.0, *, truncate: bool = False) -> tuple[str, float]:
    """Return the canonical mode name and the fill value for a mode name or alias.

    ``zero`` is ``constant`` with the fill value forced to 0. `TRUNCATE` is accepted
    (with fill value 0) only with ``truncate``, and refused otherwise saying so.

    Examples
    --------
    >>> resolve_mode("Replicate")
    ('nearest', 0.0)
    >>> resolve_mode("zero", cval=7)
    ('constant', 0.0)
    """
    key = str(name).strip().lower().replace("-", "_")
    if key in MODES:
        return key, float(cval)
    if key in ALIASES:
        return ALIASES[key], 0.0 if key == "zero" else float(cval)
    if key == TRUNCATE:
        if truncate:
            return TRUNCATE, 0.0
        raise BoundaryError(f"boundary mode {TRUNCATE!r} needs the whole image at once, and is not available here; "
                            f"valid modes: {', '.join(MODES)}")
    valid = ", ".join(MODES)
    aliases = ", ".join(sorted(ALIASES))
    raise BoundaryError(
        f"unknown boundary mode {name!r}; valid modes: {valid} (aliases: {aliases})"
    )
