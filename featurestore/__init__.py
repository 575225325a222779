"""A fast, honest single-team feature store on Feast, DuckDB, Parquet and Redis."""
