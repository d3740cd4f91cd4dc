"""Pictures in and out: reading files (whole, or a tiled TIFF or Zarr store by rows of
tiles), and what each format holds."""
