"""The demonstration's "undoing the blur" panel, without HTTP: a picture blurred as
``imgconv blur`` writes it, restored as ``imgconv deconvolve`` writes that, and how close
each comes to the original (PSNR).

For a picture P (its first frame; a larger one's centre `SIDE` x `SIDE` pixels)::

    imgconv blur -r R -s S -b B P blurred.png
    imgconv deconvolve -k gaussian:s=S,r=R --iterations N -b B blurred.png restored.png

``blurred`` and ``restored`` are those files' samples (``--algorithm wiener --balance W``
for Wiener). With ``noise`` > 0, Gaussian noise of that deviation (in levels of 255,
scaled to the picture's range; colour only, alpha kept) is added to the blurred samples
before they are rounded and clipped, from a fixed seed: the same settings give the same
picture, and what the restoration makes of a noisy blur can be compared step by step.
"""

import base64
import math
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from ..restoration import deconvolve_filter
from ..engine import EngineOptions, to_dtype
from ..filters import filter_picture, preset_filter
from ..io.picture import Picture
from ..io.write import encode_image
from ..kernels import gaussian, separable_gaussian

# The largest side restored: the engine's 50 Richardson-Lucy updates of a 512x512 RGB
# picture with the largest Gaussian (radius 30, sigma 10) took 0.8 s on the 2-core
# machine, the 451x300 sample 0.6 s. A larger picture's centre is taken, at full
# resolution, so that the blur is seen as it is on the picture's own pixels.
SIDE = 512
# The seed of the noise added: the page shows the same picture for the same settings.
NOISE_SEED = 0


class Settings(NamedTuple):
    """The panel's settings: the Gaussian blurred with (``radius``, ``deviation``), the
    boundary mode of both filters, the restoration (``method``, one of
    `imgconv.restoration.METHODS`, with ``iterations`` or ``balance``), and the noise
    added to the blur (levels of 255)."""

    radius: int
    deviation: float
    boundary: str
    method: str
    iterations: int
    balance: float
    noise: float


@dataclass(frozen=True)
class Restoration:
    """The three pictures of the panel, samples in the picture's type, and the PSNR (dB)
    of ``blurred`` and of ``restored`` against ``original`` (infinite where equal)."""

    original: np.ndarray
    blurred: np.ndarray
    restored: np.ndarray
    psnr_blurred: float
    psnr_restored: float


def centre(frame: np.ndarray, side: int = SIDE) -> np.ndarray:
    """The middle ``side`` x ``side`` samples of ``frame`` (all of a side not longer)."""
    height, width = frame.shape[:2]
    top, left = max(0, (height - side) // 2), max(0, (width - side) // 2)
    return frame[top:top + side, left:left + side]


def psnr(result: np.ndarray, original: np.ndarray, peak: float) -> float:
    """Peak signal-to-noise ratio in dB, over every sample (alpha included), in float64;
    infinite for equal arrays."""
    error = np.mean((result.astype(np.float64) - original.astype(np.float64)) ** 2)
    return math.inf if error == 0 else 10 * math.log10(peak * peak / error)


def add_noise(samples: np.ndarray, deviation: float, picture: Picture) -> np.ndarray:
    """``samples`` with Gaussian noise of ``deviation`` levels of 255 added to colour
    (`NOISE_SEED`), rounded and clipped to the picture's integer type (the demo's
    pictures are those a PNG holds, 8- or 16-bit)."""
    if deviation == 0:
        return samples
    noisy = samples.astype(np.float64)
    colours = noisy[..., :-1] if picture.has_alpha else noisy
    colours += np.random.default_rng(NOISE_SEED).normal(0, deviation * picture.sample_max / 255, colours.shape)
    return to_dtype(noisy, picture.sample_dtype)


def restoration(picture: Picture, settings: Settings) -> Restoration:
    """The panel's pictures for ``picture`` as ``settings`` say."""
    radius, deviation, boundary, method, iterations, balance, noise = settings
    engine = EngineOptions(mode=boundary)
    original = replace(picture, frames=[centre(picture.frames[0])])
    blur = preset_filter(separable_gaussian(deviation, radius=radius), engine=engine)
    blurred = add_noise(filter_picture(original, blur, picture.sample_dtype), noise, picture)
    undo = deconvolve_filter(gaussian(deviation, radius=radius), method=method, iterations=iterations,
                             balance=balance, engine=engine)
    restored = filter_picture(replace(original, frames=[blurred]), undo, picture.sample_dtype)
    pixels = original.frames[0]
    return Restoration(pixels, blurred, restored, psnr(blurred, pixels, picture.sample_max),
                       psnr(restored, pixels, picture.sample_max))


def panel(picture: Picture, settings: Settings) -> dict[str, Any]:
    """What ``restore.json`` answers for the `restoration` of ``picture``: the
    three pictures as PNG ``data:`` addresses, their size, the size of the picture they
    come from (``of``: width, height) and its ``frames`` (the first is restored), and the
    two PSNRs (null where infinite: JSON has no infinity)."""
    shown = restoration(picture, settings)
    one = replace(picture, frames=[shown.original])

    def address(samples: np.ndarray) -> str:
        png = encode_image([samples], one, "PNG", name="restore.png")
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii")

    height, width = shown.original.shape[:2]
    return {"width": width, "height": height, "of": list(picture.frames[0].shape[1::-1]),
            "frames": len(picture.frames),
            "original": address(shown.original), "blurred": address(shown.blurred),
            "restored": address(shown.restored),
            "psnr": {"blurred": None if math.isinf(shown.psnr_blurred) else shown.psnr_blurred,
                     "restored": None if math.isinf(shown.psnr_restored) else shown.psnr_restored}}
