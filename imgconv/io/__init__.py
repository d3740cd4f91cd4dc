"""Pictures in and out: reading files whole (`read`), or a tiled TIFF or Zarr store by rows
of tiles (`tiles`); encoding results (`write`) and writing them (`sink`); what each
format holds (`formats`).

A `Picture` holds an image's frames as NumPy arrays in the file's own units (0-255 for
8-bit, 0-65535 for 16-bit, floats as stored), its mode (see `imgconv.io.formats`), and what
is needed to write a result back the same way: metadata, the input's JPEG tables and
subsampling or WebP losslessness, and an animation's timing.

Pillow reads every file's header and metadata. Pixels are decoded by imagecodecs where
it is quicker and its samples are Pillow's: single-frame 8-bit PNGs (libpng, a little
over twice as fast as Pillow's decoder) and JPEGs of grey or YCbCr colour
(libjpeg-turbo, as Pillow's, without Pillow's copies); by imagecodecs also 16-bit
colour, which Pillow cannot hold (TIFFs of it by tifffile); by Pillow everything else.
Modes are read as follows; the output keeps the mode it was read as:

=============  ===================  =========================================
file           read as              why
=============  ===================  =========================================
L, LA          L, LA
RGB(A)         RGB, RGBA
16-bit colour  LA;16, RGB;16, ...   16 bits a sample stay 16 bits
P, PA          RGB or RGBA          a palette cannot hold blurred colours
1              L (0 or 255)         a filtered bilevel image has grey levels
I;16*          I;16                 16-bit grey (16-bit PGM too)
I, F           I, F
CMYK           CMYK, CMYK;16        inks kept (JPEG, TIFF; 16 bits from TIFF)
CMYK + alpha   CMYKA, CMYKA;16      from TIFF; kept in TIFF
other          RGB                  YCbCr, LAB, HSV
=============  ===================  =========================================

CMYK is written as CMYK to JPEG and TIFF, and converted to sRGB through its ICC profile
for other formats (`imgconv.io.cmyk`). Colours an ICC profile or a PNG's gAMA and cHRM
describe other than as sRGB go where a profile is carried, are refused elsewhere, and
are converted to sRGB on request (`imgconv.io.srgb`, by `imgconv.io.cms`).
"""
