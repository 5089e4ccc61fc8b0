"""SQL migrations of the access log, applied in file-name order by `store.apply_schema`."""
