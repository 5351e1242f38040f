"""Sessions as tables: the field spec, cells, masking, flattening and its inverse, CSV and Excel files."""
