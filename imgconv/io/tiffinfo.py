"""TIFF's signatures and the tag numbers imgconv reads and writes itself."""

# Little- and big-endian classic TIFF, then BigTIFF.
TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
ORIENTATION = 0x0112  # the EXIF tag, which TIFF shares
XMP, ICC = 700, 34675
MINISWHITE = 0  # PhotometricInterpretation for grey where 0 is white
MINISBLACK, RGB, PALETTE = 1, 2, 3  # the other PhotometricInterpretations read here
ASSOCIATED_ALPHA = 1  # ExtraSamples: alpha that the colour samples are multiplied by
