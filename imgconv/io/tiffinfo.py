"""TIFF's signatures and the tag numbers imgconv reads and writes itself."""

# Little- and big-endian classic TIFF, then BigTIFF.
TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
ORIENTATION = 0x0112  # the EXIF tag, which TIFF shares
RESOLUTION_UNIT = 296
XMP, ICC = 700, 34675
MINISWHITE = 0  # PhotometricInterpretation for grey where 0 is white
MINISBLACK, RGB, PALETTE = 1, 2, 3  # the other PhotometricInterpretations read here
CIELAB_KINDS = (8, 9, 10)  # CIELab, ICCLab, ITULab
CMYK, YCBCR = 5, 6  # PhotometricInterpretations converted to RGB (CMYK as SEPARATED with InkSet 1)
INKSET, YCBCR_SUBSAMPLING = 332, 530
TILE_WIDTH, TILE_OFFSETS = 322, 324
WEBP = 50001  # Compression
OLD_JPEG = 6
JPEG_COMPRESSIONS = (OLD_JPEG, 7)  # old- and new-style JPEG: the decoder gives RGB from YCbCr
ASSOCIATED_ALPHA = 1  # ExtraSamples: alpha that the colour samples are multiplied by
UNASSOCIATED_ALPHA = 2  # ExtraSamples: alpha kept apart from the colour samples
