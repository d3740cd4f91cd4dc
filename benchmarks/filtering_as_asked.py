"""Cost of linear light, luminance-only filtering, scale-space filters and missing data,
each as a ratio to the plain filter it extends, on a 3840x2160 RGB photo made from
samples/chelsea.png.

Run: python benchmarks/filtering_as_asked.py [--repeats N]. Prints one line per case:
the two best times and their ratio, against the goal."""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_times  # noqa: E402

from imgconv import engine, scalespace  # noqa: E402
from imgconv.kernels import separable_gaussian  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def four_k_photo() -> np.ndarray:
    with Image.open(ROOT / "samples" / "chelsea.png") as cat:
        return np.asarray(cat.convert("RGB").resize((3840, 2160), Image.BICUBIC))


def scale_space_cases(photo, sigma=3.0):
    """dog, log and gradient magnitude against a blur of the same sigma, 8-bit in."""
    blur = separable_gaussian(sigma=sigma)

    def plain():
        engine.correlate(photo, blur, output=np.uint8)

    return plain, {
        "difference of Gaussians 3, 4.8": lambda: scalespace.difference_of_gaussians(photo, sigma, 1.6 * sigma),
        "Laplacian of Gaussian 3": lambda: scalespace.laplacian_of_gaussian(photo, sigma),
        "gradient magnitude 3": lambda: scalespace.gradient_magnitude(photo, sigma),
    }, 2.5


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    photo = four_k_photo()
    for make in CASES:
        plain, cases, goal = make(photo)
        for label, function in cases.items():
            base, ours = best_times([plain, function], args.repeats, 2)
            print(f"{label:40s} plain {base * 1000:7.0f} ms  ours {ours * 1000:7.0f} ms  "
                  f"ratio {ours / base:4.2f} (goal <= {goal})", flush=True)


CASES = [scale_space_cases]

if __name__ == "__main__":
    main()
