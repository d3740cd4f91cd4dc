"""The lecture's commands: ``conv-layer`` (a convolution layer of a neural network),
``params`` (why convolution), ``learn`` (a kernel from an example), ``animate`` (a
kernel sliding over an input) and ``demo`` (all of it in a web page)."""

import sys
from typing import Any

import click

from ..names import quote_name
from ..vocabulary import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_PIXELS
from .lazy import animate, demo, kernelfile, layers, learn, params
from .messages import say
from .progress import file_progress, showing
from .sections import (
    KERNEL_SIZE,
    MAX_PIXELS,
    SectionedCommand,
    boundary_options,
    check_messages,
    message_options,
    section,
)
from .types import BiasType, FiniteFloat, KernelSpecType, PaddingType, PairType, PathType


def size_text(size: tuple[int, ...]) -> str:
    """``HxW``, as the options take sizes."""
    return "x".join(map(str, size))


@click.command("conv-layer", cls=SectionedCommand)
@click.argument("source", metavar="INPUT", type=PathType())
@click.argument("dest", metavar="OUTPUT", type=PathType())
@click.option("--kernel", "-k", "kernel_specs", type=KernelSpecType(), multiple=True,
              help="A kernel (file or inline); repeat for more filters. Each filters the image in grey.")
@click.option("--weights", type=click.Path(dir_okay=False),
              help="A .npy of shape (F, C, kh, kw): F filters summing over the image's C channels.")
@click.option("--bias", type=BiasType(), help="One bias per filter: comma-separated, or a .npy file.")
@click.option("--stride", type=PairType(), default="1", show_default=True, help="S or SY,SX.")
@click.option("--dilation", type=PairType(), default="1", show_default=True, help="D or DY,DX: taps D apart.")
@click.option("--padding", type=PaddingType(), default="valid", show_default=True,
              help="valid, same (ceil(size/stride) outputs, extra at bottom/right), full, N or PY,PX.")
@boundary_options("constant", "What the padding holds (constant with --cval 0: zeros, as in deep learning).")
@click.option("--activation", type=click.Choice(["none", "relu"]), default="none", show_default=True,
              help="Applied after the bias.")
@click.option("--columns", type=click.IntRange(min=1), help="Montage columns [default: near-square grid].")
@section("Input", MAX_PIXELS)
@message_options("Also say how many feature maps of what size were written.",
                 "the kernels applied and the rows they have filtered")
def conv_layer(source: str, dest: str, kernel_specs: tuple[Any, ...], weights: Any, bias: Any,
               stride: tuple[int, int], dilation: tuple[int, int], padding: tuple[Any, Any], mode: str,
               cval: float, activation: str, columns: int | None, max_pixels: int, progress: bool | None,
               quiet: bool, verbose: bool) -> None:
    """A convolution layer of a neural network, as deep learning defines it
    (cross-correlation): feature maps, not a filtered picture (that is convolve).

    OUTPUT.npy gets the (F, H', W') float32 feature maps, in the input's sample units;
    an image OUTPUT gets a grey montage, each map stretched from its minimum to its
    maximum.

    \b
    Examples:
      imgconv conv-layer -k "-1 0 1; -2 0 2; -1 0 1" -k "-1 -2 -1; 0 0 0; 1 2 1" --stride 2 in.png maps.png
      imgconv conv-layer --weights w.npy --bias 0.1,0,-0.2 --padding same --activation relu in.png maps.npy
    """
    check_messages(quiet, verbose)
    if bool(kernel_specs) == (weights is not None):
        raise click.UsageError("give --kernel (one or more) or --weights")
    if weights is not None:
        weights = layers.read_array(weights)
    kernels_ = list(kernel_specs) or None
    bar = file_progress(quiet, progress, "kernel")
    with showing(bar):
        maps = layers.conv_layer_file(source, dest, kernels=kernels_, weights=weights, bias=bias, columns=columns,
                                      max_pixels=max_pixels, stride=stride, padding=padding, dilation=dilation,
                                      mode=mode, cval=cval, activation=activation,
                                      on_progress=bar and bar.parts)
    if verbose:
        count, *size = maps.shape
        say(f"{count} feature map{'s' * (count != 1)} of {size_text(tuple(size))}; wrote {quote_name(dest)}")


@click.command("params")
@click.option("--input-size", type=PairType(), default="1000x1000", show_default=True, help="Image size HxW.")
@click.option("--hidden", type=click.IntRange(min=1), default=1_000_000, show_default=True, help="Hidden units.")
@click.option(KERNEL_SIZE, type=PairType(), default="10x10", show_default=True, help="Filter (kernel) size HxW.")
@click.option("--filters", type=click.IntRange(min=1), default=100, show_default=True, help="Convolution filters.")
@click.option("--channels", type=click.IntRange(min=1), default=1, show_default=True, help="Input channels.")
@click.option("--bias", is_flag=True, help="Count a bias per unit (per filter for the convolution).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def params_command(input_size: tuple[int, int], hidden: int, kernel_size: tuple[int, int], filters: int,
                   channels: int, bias: bool, as_json: bool) -> None:
    """Why convolution: parameters of fully connected, locally connected and
    convolutional layers on one image.

    \b
    Example (the lecture's numbers: 10^12, 10^8 and 10^4):
      imgconv params --input-size 1000x1000 --hidden 1000000 --kernel-size 10x10 --filters 100
    """
    counts = params.parameter_counts(input_size, hidden, kernel_size, filters, channels, bias)
    if as_json:
        import json

        click.echo(json.dumps({
            "input": list(input_size), "channels": channels, "hidden": hidden, "filter": list(kernel_size),
            "filters": filters, "bias": bias,
            "counts": counts, "ratios": params.ratios(counts),
        }, indent=2))
    else:
        click.echo(params.format_table(counts), nl=False)


@click.command("learn", cls=SectionedCommand)
@click.argument("source", metavar="INPUT", type=PathType())
@click.argument("target", metavar="TARGET", type=PathType())
@click.argument("dest", metavar="OUTPUT", type=PathType())
@click.option(KERNEL_SIZE, type=click.IntRange(min=1), required=True, metavar="K", help="Kernel size K (K x K).")
@boundary_options("reflect", "How INPUT is extended beyond its edges, as for convolve.")
@click.option("--per-channel", is_flag=True, help="Learn one kernel per channel: OUTPUT-0, OUTPUT-1, ...")
@click.option("--ridge", type=FiniteFloat(min=0), default=0.0, show_default=True,
              help="Ridge penalty on the weights (helps with flat or small images).")
@section("Input", MAX_PIXELS)
@message_options("Also print the kernel (or kernels) learned.", "the rows fitted")
def learn_command(source: str, target: str, dest: str, kernel_size: int, mode: str, cval: float,
                  per_channel: bool, ridge: float, max_pixels: int, progress: bool | None, quiet: bool,
                  verbose: bool) -> None:
    """Learn the K x K kernel that turns INPUT into TARGET, by least squares, and write
    it to OUTPUT (plain text).

    One kernel is shared by every position, the point of convolution. The fit (RMSE,
    PSNR) goes to stderr; imgconv convolve -k OUTPUT INPUT OUT reproduces TARGET.

    \b
    Example:
      imgconv blur -r 2 -s 1 in.png blurred.png
      imgconv learn --kernel-size 5 in.png blurred.png kernel.txt
    """
    check_messages(quiet, verbose)
    bar = file_progress(quiet, progress, "row", "fitting", counted=True)
    with showing(bar, rows=False):
        fit, paths = learn.learn_files(source, target, dest, kernel_size, mode=mode, cval=cval,
                                       per_channel=per_channel, ridge=ridge, max_pixels=max_pixels,
                                       on_progress=bar and bar.parts)
    if not quiet:
        say(f"fit: RMSE {fit.rmse:.6g}, PSNR {fit.psnr:.2f} dB (peak {fit.peak:g}); "
            f"wrote {', '.join(map(quote_name, paths))}")
    if verbose:
        for path, kernel in zip(paths, fit.kernels, strict=True):
            say(f"{quote_name(path)}:")
            for line in kernelfile.format_kernel(kernel).splitlines():
                say(line)


@click.command("animate", cls=SectionedCommand)
@click.argument("dest", metavar="OUTPUT", type=PathType())
@click.option("--input-size", type=PairType(), default="5", show_default=True, help="Input grid H or HxW.")
@click.option(KERNEL_SIZE, type=PairType(), default="3", show_default=True, help="Kernel K or KhxKw.")
@click.option("--stride", type=PairType(), default="1", show_default=True, help="S or SY,SX.")
@click.option("--padding", type=PaddingType(), default="0", show_default=True,
              help="Zero padding: N, PY,PX, valid, same or full.")
@click.option("--dilation", type=PairType(), default="1", show_default=True, help="D or DY,DX.")
@click.option("--fps", type=click.FloatRange(min=0.1, max=100), default=2.0, show_default=True,
              help="Frames per second.")
@click.option("--numbers", is_flag=True, help="Write input values, weights and outputs into the cells.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the input values and weights.")
@click.option("--max-pixels", type=click.IntRange(min=0), default=DEFAULT_MAX_PIXELS, show_default=True,
              envvar="IMGCONV_MAX_PIXELS", metavar="N",
              help="Refuse, before drawing, an animation of more pixels in all its frames; 0 lifts the limit. "
                   "Also IMGCONV_MAX_PIXELS.")
@message_options("Also say the geometry: padded input, stride, dilation, frame size.",
                 "the frames drawn")
def animate_command(dest: str, input_size: tuple[int, int], kernel_size: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[Any, Any], dilation: tuple[int, int], fps: float, numbers: bool, seed: int,
                    max_pixels: int, progress: bool | None, quiet: bool, verbose: bool) -> None:
    """Animate a kernel sliding over an input: one frame per output position, looping.

    The format follows OUTPUT's extension: .gif, or animated .png or .webp.

    \b
    Example:
      imgconv animate --input-size 5 --kernel-size 3 --stride 2 --padding 1 --numbers slide.gif
    """
    check_messages(quiet, verbose)
    geometry = animate.make_geometry(input_size, kernel_size, stride, padding, dilation)
    bar = file_progress(quiet, progress, "frame", "drawing", counted=True)
    with showing(bar, rows=False):
        count = animate.animate_file(dest, geometry, fps=fps, numbers=numbers, seed=seed, max_pixels=max_pixels,
                                     on_progress=bar and bar.parts)
    if not quiet:
        say(f"{count} frames: output {geometry.output[0]}x{geometry.output[1]}")
    if verbose:
        width, height = animate.Layout(geometry).size
        say(f"input {size_text(geometry.input)} padded to {size_text(geometry.padded)}, kernel "
            f"{size_text(geometry.kernel)}, stride {size_text(geometry.stride)}, dilation "
            f"{size_text(geometry.dilation)}; frames {width} pixels wide and {height} high at {fps:g} fps; "
            f"wrote {quote_name(dest)}")


@click.command("demo", cls=SectionedCommand)
@click.argument("image", required=False, metavar="[IMAGE]", type=PathType())
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; the default is reachable from this machine only.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port; 0 picks a free one.")
@click.option("--no-browser", is_flag=True, help="Only print the URL; do not open a browser.")
@section("Input", MAX_PIXELS, (("--max-upload-pixels",), {
    "type": click.IntRange(min=1), "default": DEFAULT_MAX_UPLOAD_PIXELS, "show_default": True, "metavar": "N",
    "help": "Refuse an upload of more pixels (all frames; from its header), or of more than --max-pixels."}))
def demo_command(image: str | None, host: str, port: int, no_browser: bool, max_pixels: int,
                 max_upload_pixels: int) -> None:
    """The lecture's live demonstrations in a web page: Gaussian blur with sliders
    and its undoing (deconvolution), the sliding kernel of a convolution layer, and
    parameter counts.

    Prints the page's URL as its first line, opens a browser on it, and serves until
    Ctrl-C. IMAGE (default: a 451x300 sample) is the blurred picture; the page can
    load others, kept in memory only.

    \b
    Example:
      imgconv demo photo.jpg --port 8000 --no-browser
    """
    server = demo.make_server(image, host, port, max_pixels, max_upload_pixels)
    click.echo(server.url)
    try:
        demo.serve(server, open_browser=not no_browser)
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl-C is how a demonstration ends: no message


COMMANDS = (conv_layer, params_command, learn_command, animate_command, demo_command)
"""The lecture's commands, in the order the group lists them in code."""
