"""Large tiled TIFF and Zarr files, filtered block by block and written tile by tile.

A tiled TIFF (BigTIFF too, any compression tifffile decodes) or a Zarr store (a folder
named ``*.zarr``) written to a TIFF file or a Zarr store is never held whole: its tiles
are read one row of tiles at a time (`imgconv.io.tiles`), cut into blocks of
full-width rows as `imgconv.dask.map_bands` cuts them (so the result equals the whole
image's, sample for sample), each block filtered by the same
`imgconv.filters.filter_picture` as a whole picture, on Dask's threaded scheduler (or a
cluster's), at most `blocks.MAX_IN_FLIGHT` blocks at once (`blocks`), and the result
written in order, one row of tiles at a time, to a temporary file or store that takes
the output's name at the end (`writers`, `imgconv.io.sink`). Memory is bounded by the
blocks in flight, not by the image::

    filt = imgconv.filters.preset_filter(imgconv.kernels.separable_gaussian(3, radius=5))
    imgconv.pipeline.process_file("big.tif", "out.tif", filt)   # streams through `run`

Before any pixel is read, the header is checked: the tile size against the pixel
budget (a row of tiles and a block of rows must fit in ``max_pixels``), the tile count
against the image's size, and every tile's bytes against the file's length.
"""
