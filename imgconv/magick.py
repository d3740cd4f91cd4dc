"""ImageMagick kernel strings, as ``-morphology`` and ``-convolve`` read them, and written back.

Read: ``Gaussian:{radius}x{sigma}``, ``Blur:{radius}x{sigma}[,{angle}]`` (one row; a column
turned by 90 or 270), ``DoG:{radius},{sigma1},{sigma2}``, ``LoG:{radius},{sigma}``,
``Sobel[:{angle}]`` (angle a multiple of 45), ``Laplacian:{type}`` (0, 1, 2, 3, 5, 7, 15 or 19),
``Unity`` and user kernels ``WxH[+X+Y]: values`` (``W:`` for WxW; ``nan`` for elements outside
the neighbourhood, which weigh nothing in a convolution).
A radius of 0 asks for ImageMagick's automatic size, computed as its Q16 build computes it (the
edge weight falls below 1/65535); another radius R gives ``int(2 R + 1)`` taps, as ImageMagick
6.9 counts them. The built-in kernels are normalised as ImageMagick does: the positive weights
to sum 1 and the negative ones (DoG, LoG) to sum -1.

ImageMagick's ``-morphology Convolve`` computes ``out[y, x] = sum k[i, j] in[y - i + Y, x - j + X]``
for the origin (X, Y), by default ``((W - 1) // 2, (H - 1) // 2)``; imgconv's convolution is the
same sum with ``n // 2`` in place of the origin. So a kernel whose origin is its centre (odd
sizes, by default) is taken as written; another is padded with zeros until its origin is the
centre, which gives the same convolution. Several kernels joined by ``;``, which ImageMagick
applies one after the other, are read as the one kernel that does the same: their convolution
(`parse_kernel`).
"""

import itertools
import math
import re

import numpy as np

from .engine import MAX_KERNEL_SIZE, Kernel, check_kernel
from .errors import KernelError

# QuantumScale of ImageMagick's Q16 build: the automatic radius stops where the edge weight,
# relative to the kernel's sum, falls below it (GetOptimalKernelWidth in MagickCore/gem.c).
_QUANTUM_SCALE = 1.0 / 65535.0
_EPSILON = 1e-12  # MagickEpsilon
_USER = re.compile(r"^\s*(\d+)(?:x(\d+))?(?:([+-]\d+)([+-]\d+))?\s*:(.*)$", re.IGNORECASE | re.DOTALL)
_NAMED = re.compile(r"^\s*([A-Za-z]+)\s*(?::(.*))?$", re.DOTALL)
_ARGUMENT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?", re.IGNORECASE)
_LAPLACIANS = {
    0: "-1,-1,-1 -1,8,-1 -1,-1,-1",
    1: "0,-1,0 -1,4,-1 0,-1,0",
    2: "-2,1,-2 1,4,1 -2,1,-2",
    3: "1,-2,1 -2,4,-2 1,-2,1",
    5: "-4,-1,0,-1,-4 -1,2,3,2,-1 0,3,4,3,0 -1,2,3,2,-1 -4,-1,0,-1,-4",
    7: "-10,-5,-2,-1,-2,-5,-10 -5,0,3,4,3,0,-5 -2,3,6,7,6,3,-2 -1,4,7,8,7,4,-1 -2,3,6,7,6,3,-2 "
       "-5,0,3,4,3,0,-5 -10,-5,-2,-1,-2,-5,-10",
    15: "0,0,-1,0,0 0,-1,-2,-1,0 -1,-2,16,-2,-1 0,-1,-2,-1,0 0,0,-1,0,0",
    19: "0,-1,-1,-2,-2,-2,-1,-1,0 -1,-2,-4,-5,-5,-5,-4,-2,-1 -1,-4,-5,-3,0,-3,-5,-4,-1 "
        "-2,-5,-3,12,24,12,-3,-5,-2 -2,-5,0,24,40,24,0,-5,-2 -2,-5,-3,12,24,12,-3,-5,-2 "
        "-1,-4,-5,-3,0,-3,-5,-4,-1 -1,-2,-4,-5,-5,-5,-4,-2,-1 0,-1,-1,-2,-2,-2,-1,-1,0",
}
SUPPORTED = "Gaussian, Blur, DoG, LoG, Sobel, Laplacian, Unity and 'WxH[+X+Y]: values'"


def looks_like_magick(spec: str) -> bool:
    """Whether ``spec`` is meant as ImageMagick's syntax: it starts with a name or ``WxH:``."""
    first = spec.split(";", 1)[0]
    return bool(_NAMED.match(first) or _USER.match(first))


def parse_kernel(spec: str) -> Kernel:
    """The kernel of an ImageMagick kernel string; several joined by ``;`` are combined into
    the one kernel that applies them in turn (their convolution).

    ImageMagick clips each kernel's result to the sample range before the next kernel reads
    it, which one kernel cannot do: so every kernel but the last must keep the samples in
    range (no negative weight, a sum of at most 1), or the string is refused.

    Examples
    --------
    >>> parse_kernel("3x1: 1,2,1").weights
    array([[1., 2., 1.]])
    >>> parse_kernel("3x1: 0.25,0.5,0.25; 1x3: 1,2,1").weights
    array([[0.25, 0.5 , 0.25],
           [0.5 , 1.  , 0.5 ],
           [0.25, 0.5 , 0.25]])
    """
    parts = [part for part in spec.split(";") if part.strip()]
    if not parts:
        raise KernelError(f"{_short(spec)}: no ImageMagick kernel given")
    values, x, y = _parse_one(parts[0].strip())
    budget = _MAX_COMBINE_WORK
    for before, part in itertools.pairwise(parts):
        if values.min() < 0 or values.sum() > 1 + 1e-12:
            raise KernelError(f"{_short(spec)}: ImageMagick clips what {_short(before.strip())} gives before "
                              f"the next kernel reads it; only a kernel of weights >= 0 summing to at most 1 "
                              f"can come before another")
        (values, x, y), budget = _combine(spec, (values, x, y), _parse_one(part.strip()), budget)
    return Kernel(_anchored(spec, values, x, y))


def format_magick(weights: np.ndarray) -> str:
    """``WxH+X+Y: v,v,...`` (rows separated by spaces), which ImageMagick and `parse_kernel` read.

    The origin is written, imgconv's anchor ``(W // 2, H // 2)``: ImageMagick's default,
    ``((W - 1) // 2, (H - 1) // 2)``, is another one for an even size.
    """
    height, width = weights.shape
    rows = " ".join(",".join(repr(float(x)) for x in row) for row in weights)
    return f"{width}x{height}+{width // 2}+{height // 2}: {rows}\n"


def _short(text: str) -> str:
    """``text`` quoted for a message, cut short: a hostile spec may be megabytes long."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


Placed = tuple[np.ndarray, int, int]
"""A kernel's weights and ImageMagick's origin in them, (X, Y)."""


def _parse_one(part: str) -> Placed:
    user = _USER.match(part)
    if user:
        width = int(user.group(1))
        height = int(user.group(2) or width)
        origin = (int(user.group(3)), int(user.group(4))) if user.group(3) else None
        return _user_kernel(part, width, height, origin, user.group(5))
    named = _NAMED.match(part)
    if not named:
        raise KernelError(f"{_short(part)}: not an ImageMagick kernel (supported: {SUPPORTED})")
    name, arguments = named.group(1).lower(), _arguments(part, named.group(2) or "")
    rho, sigma, xi = [*arguments, 0.0, 0.0, 0.0][:3]
    if name in ("gaussian", "dog", "log"):
        return _centred(_gaussian(name, part, rho, sigma, xi))
    if name == "blur":
        if xi % 90:
            raise KernelError(f"{_short(part)}: Blur's angle must be a multiple of 90")
        # ImageMagick turns a one-row kernel by 90 into a column and takes 180 as no turn.
        row = _blur(part, rho, sigma)
        return _centred(row.T if xi % 180 else row)
    if name == "sobel":
        if rho % 45:
            raise KernelError(f"{_short(part)}: Sobel's angle must be a multiple of 45")
        return _centred(_turned(_values(part, "1,0,-1 2,0,-2 1,0,-1", 3, 3), int(rho // 45)))
    if name == "laplacian":
        if rho not in _LAPLACIANS:
            raise KernelError(f"{_short(part)}: Laplacian types 0, 1, 2, 3, 5, 7, 15 and 19 are supported")
        values = _LAPLACIANS[int(rho)]
        size = math.isqrt(values.count(",") + values.count(" ") + 1)
        return _centred(_values(part, values, size, size))
    if name == "unity":
        return _centred(np.array([[rho if arguments else 1.0]]))
    raise KernelError(f"{_short(part)}: no such kernel file, and ImageMagick kernel {named.group(1)[:40]!r} "
                      f"is not supported (supported: {SUPPORTED})")


def _centred(values: np.ndarray) -> Placed:
    """A built-in kernel with ImageMagick's default origin, ``((W - 1) // 2, (H - 1) // 2)``."""
    return values, (values.shape[1] - 1) // 2, (values.shape[0] - 1) // 2


# The outer ring of a 3x3 kernel, clockwise from the top left corner.
_RING = ((0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0))


def _turned(values: np.ndarray, eighths: int) -> np.ndarray:
    """A 3x3 kernel turned clockwise by ``eighths`` times 45 degrees, as ImageMagick's
    RotateKernelInfo turns one: each element of the outer ring moves on by that many places."""
    ring = [values[i, j] for i, j in _RING]
    turned = values.copy()
    for k, (i, j) in enumerate(_RING):
        turned[i, j] = ring[(k - eighths) % 8]
    return turned


def _arguments(part: str, text: str) -> list[float]:
    """The numbers of ``{a}x{b}+{c}`` or ``{a},{b},{c}``, in order."""
    numbers = _ARGUMENT.findall(text)
    rest = _ARGUMENT.sub("", text)
    if re.sub(r"[\sx,%]", "", rest, flags=re.IGNORECASE) or len(numbers) > 4:
        raise KernelError(f"{_short(part)}: cannot read the arguments; expected up to 4 numbers "
                          f"like '0x2' or '0,1,2'")
    values = [float(n) for n in numbers]
    if not all(math.isfinite(v) for v in values):
        raise KernelError(f"{_short(part)}: the arguments must be finite numbers")
    return values


def _user_kernel(part: str, width: int, height: int, origin: tuple[int, int] | None, text: str) -> Placed:
    if not (1 <= width <= MAX_KERNEL_SIZE and 1 <= height <= MAX_KERNEL_SIZE):
        raise KernelError(f"{_short(part)}: a {width}x{height} kernel; the largest is "
                          f"{MAX_KERNEL_SIZE}x{MAX_KERNEL_SIZE}")
    x, y = origin if origin is not None else ((width - 1) // 2, (height - 1) // 2)
    if not (0 <= x < width and 0 <= y < height):
        raise KernelError(f"{_short(part)}: the origin +{x}+{y} is outside the {width}x{height} kernel")
    return _values(part, text, width, height), x, y


def _anchored(spec: str, values: np.ndarray, x: int, y: int) -> np.ndarray:
    """``values`` padded with zeros so that imgconv's anchor, index ``n // 2``, is the origin."""
    rows, columns = _padding(values.shape[0], y), _padding(values.shape[1], x)
    if max(values.shape[0] + sum(rows), values.shape[1] + sum(columns)) > MAX_KERNEL_SIZE:
        raise KernelError(f"{_short(spec)}: the origin +{x}+{y} needs a kernel larger than "
                          f"{MAX_KERNEL_SIZE}x{MAX_KERNEL_SIZE}")
    return np.pad(values, (rows, columns))


def _padding(size: int, origin: int) -> tuple[int, int]:
    """The fewest zeros before and after, along one axis, that make ``origin`` the index
    ``n // 2`` of the padded kernel of size n."""
    if origin < size // 2:
        return (size - 2 * origin - 1, 0)
    return (0, 2 * origin - size if origin > size // 2 else 0)


# The most multiply-adds spent combining the kernels of one string (about a tenth of a
# second), so that a long hostile list is refused rather than computed for seconds.
_MAX_COMBINE_WORK = 1 << 26


def _combine(spec: str, first: Placed, then: Placed, budget: int) -> tuple[Placed, int]:
    """The one kernel that convolves as ``first`` followed by ``then``: their full
    convolution, whose origin is the sum of theirs; and what is left of the ``budget``
    of multiply-adds."""
    (a, ax, ay), (b, bx, by) = first, then
    height, width = a.shape[0] + b.shape[0] - 1, a.shape[1] + b.shape[1] - 1
    if max(height, width) > MAX_KERNEL_SIZE:
        raise KernelError(f"{_short(spec)}: the kernels combined would be {width}x{height}; "
                          f"the largest is {MAX_KERNEL_SIZE}x{MAX_KERNEL_SIZE}")
    if np.count_nonzero(b) > np.count_nonzero(a):
        a, b = b, a
    budget -= np.count_nonzero(b) * a.size
    if budget < 0:
        raise KernelError(f"{_short(spec)}: the kernels are too large or too many to combine into one")
    combined = np.zeros((height, width))
    for i, j in zip(*np.nonzero(b), strict=True):
        combined[i:i + a.shape[0], j:j + a.shape[1]] += b[i, j] * a
    return (combined, ax + bx, ay + by), budget


def _values(part: str, text: str, width: int, height: int) -> np.ndarray:
    fields = [f for f in re.split(r"[\s,]+", text) if f]
    if len(fields) != width * height:
        raise KernelError(f"{_short(part)}: a {width}x{height} kernel needs {width * height} values, "
                          f"found {len(fields)}")
    try:
        values = np.array([float(f) for f in fields])
    except ValueError as exc:
        raise KernelError(f"{_short(part)}: {exc}") from None
    if np.isinf(values).any():
        raise KernelError(f"{_short(part)}: the values must be finite (or nan for unused elements)")
    # nan marks an element outside the neighbourhood: it weighs nothing in a convolution.
    return check_kernel(np.nan_to_num(values, nan=0.0).reshape(height, width), _short(part))


def _optimal_width(part: str, radius: float, sigma: float, dimensions: int) -> int:
    """GetOptimalKernelWidth1D/2D: 2*ceil(radius)+1, or the automatic width for ``sigma``."""
    if radius > _EPSILON:
        width = 2 * math.ceil(radius) + 1
    elif abs(sigma) <= _EPSILON:
        return 3
    else:
        alpha = 1.0 / (2.0 * sigma * sigma)
        width = 5
        while width <= MAX_KERNEL_SIZE + 2:
            j = (width - 1) // 2
            # The 2-D sum is the square of the 1-D one; the normalising constants cancel.
            total = np.exp(-np.arange(-j, j + 1) ** 2 * alpha).sum() ** dimensions
            edge = math.exp(-j * j * alpha) / total
            if edge < _QUANTUM_SCALE or edge < _EPSILON:
                break
            width += 2
        width -= 2
    if width > MAX_KERNEL_SIZE:
        raise KernelError(f"{_short(part)}: the kernel would be wider than {MAX_KERNEL_SIZE}")
    return width


def _size(part: str, rho: float, sigma: float, dimensions: int) -> int:
    """The width ImageMagick 6.9 gives a Gaussian of ``radius`` rho and ``sigma``: ``int(2 rho + 1)``,
    or the automatic width for a radius below 1."""
    if rho >= 1.0:
        if rho > MAX_KERNEL_SIZE:  # before int() makes a number of 300 digits
            raise KernelError(f"{_short(part)}: the kernel would be wider than {MAX_KERNEL_SIZE}")
        width = int(2 * rho + 1)
        if width > MAX_KERNEL_SIZE:
            raise KernelError(f"{_short(part)}: the kernel would be wider than {MAX_KERNEL_SIZE}")
        if dimensions == 2 and width % 2 == 0:
            # ImageMagick allocates the even width but computes only its odd centre.
            raise KernelError(f"{_short(part)}: radius {rho:g} makes ImageMagick build a {width}x{width} "
                              f"kernel it fills only in part; give a radius below {width // 2 - 0.5:g}")
        return width
    return _optimal_width(part, rho, sigma, dimensions)


def _correlate_normalize(values: np.ndarray) -> np.ndarray:
    """ScaleKernelInfo's CorrelateNormalize: positive weights sum to 1, negative ones to -1."""
    positive, negative = values[values > 0].sum(), values[values < 0].sum()
    positive_scale = positive if abs(positive) >= _EPSILON else 1.0
    negative_scale = -negative if abs(negative) >= _EPSILON else 1.0
    return np.where(values >= 0, values / positive_scale, values / negative_scale)


def _gaussian(name: str, part: str, rho: float, sigma: float, xi: float) -> np.ndarray:
    sigma, sigma2 = abs(sigma), abs(xi)
    if name == "log":
        sigma2 = 0.0
    width = _size(part, rho, sigma if name != "dog" or sigma >= sigma2 else sigma2, 2)
    half = (width - 1) // 2
    v, u = np.mgrid[-half:half + 1, -half:half + 1]
    squared = (u * u + v * v).astype(float)
    unity = np.zeros((width, width))
    unity[half, half] = 1.0

    def gauss(s: float) -> np.ndarray:
        if s <= _EPSILON:
            return unity
        return np.exp(-squared / (2 * s * s)) / (2 * math.pi * s * s)

    if name == "log":
        if sigma > _EPSILON:
            r = squared / (2 * sigma * sigma)
            values = (1 - r) * np.exp(-r) / (math.pi * sigma ** 4)
        else:
            values = unity
    else:
        values = gauss(sigma)
        if name == "dog":
            values = values - gauss(sigma2)
    return _correlate_normalize(values)


def _blur(part: str, rho: float, sigma: float) -> np.ndarray:
    """ImageMagick's Blur: a Gaussian sampled three times a pixel, the samples summed per pixel."""
    sigma = abs(sigma)
    width = _size(part, rho, sigma, 1)
    values = np.zeros(width)
    if sigma > _EPSILON:
        rank = 3
        v = (width * rank - 1) // 2
        u = np.arange(-v, v + 1)
        s = sigma * rank
        np.add.at(values, (u + v) // rank, np.exp(-(u * u) / (2 * s * s)) / (math.sqrt(2 * math.pi) * s))
    else:
        values[(width - 1) // 2] = 1.0
    return _correlate_normalize(values)[np.newaxis, :]
