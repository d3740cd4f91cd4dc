"""Why convolution: parameter counts of three ways to connect an image to a layer.

For an H x W image with C channels and a layer of N hidden units:

- fully connected: every unit sees every input sample: ``H·W·C·N`` weights;
- locally connected: every unit sees only an fh x fw patch, with weights of its own:
  ``N·fh·fw·C``;
- convolutional: F filters of fh x fw, each shared by every position: ``F·fh·fw·C``.

With biases, one per unit (fully and locally connected) or one per filter. The
lecture's numbers: a 1000x1000 image, 10^6 hidden units, 10x10 filters, 100 filters
give 10^12, 10^8 and 10^4.
"""

import math

LAYERS = ("fully connected", "locally connected", "convolutional")


def parameter_counts(input_size: tuple[int, int], hidden: int, filter_size: tuple[int, int], filters: int,
                     channels: int = 1, bias: bool = False) -> dict[str, int]:
    """The three counts, by layer name.

    Examples
    --------
    >>> parameter_counts((1000, 1000), 10**6, (10, 10), 100)
    {'fully connected': 1000000000000, 'locally connected': 100000000, 'convolutional': 10000}
    """
    height, width = input_size
    fh, fw = filter_size
    return {
        "fully connected": height * width * channels * hidden + (hidden if bias else 0),
        "locally connected": hidden * fh * fw * channels + (hidden if bias else 0),
        "convolutional": filters * fh * fw * channels + (filters if bias else 0),
    }


def ratios(counts: dict[str, int]) -> dict[str, float]:
    """Each pair of layers, the larger count over the smaller."""
    pairs = [("fully connected", "locally connected"), ("locally connected", "convolutional"),
             ("fully connected", "convolutional")]
    return {f"{a} / {b}": counts[a] / counts[b] for a, b in pairs}


def power_of_ten(value: float) -> str:
    """``10^12`` for exact powers of ten, else ``~3.2 x 10^11``.

    Examples
    --------
    >>> power_of_ten(10000), power_of_ten(320000)
    ('10^4', '~3.2 x 10^5')
    """
    if value <= 0:
        return str(value)
    exponent = math.floor(math.log10(value))
    mantissa = value / 10**exponent
    if math.isclose(mantissa, 1.0, rel_tol=1e-12):
        return f"10^{exponent}"
    return f"~{mantissa:.1f} x 10^{exponent}"


def format_table(counts: dict[str, int]) -> str:
    """The counts and ratios as an aligned plain-text table, digits grouped."""
    lines = [f"{'layer':<20} {'parameters':>22}  power of ten"]
    for layer in LAYERS:
        lines.append(f"{layer:<20} {counts[layer]:>22,}  {power_of_ten(counts[layer])}")
    lines.append("")
    for name, value in ratios(counts).items():
        lines.append(f"{name:<40} {format_ratio(value):>18}  {power_of_ten(value)}")
    return "\n".join(lines) + "\n"


def format_ratio(value: float) -> str:
    """A ratio with digits grouped: whole, or to two decimals.

    Examples
    --------
    >>> format_ratio(10000.0), format_ratio(2.5)
    ('10,000', '2.50')
    """
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"
