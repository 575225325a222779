"""A fast, honest single-team feature store on Feast, DuckDB, Parquet and Redis.

The core library, in layers (a module imports only from layers above it, never from
``ingestion`` or ``api``):

project.py            a project: its folders, online store address, raw sources
layout.py             the data folder's layout (feature tables, quarantine, history, Redis)
settings.py           the online store's address (a redis:// URL)
sql.py                the one DuckDB connection factory, quoting, Parquet scans
raw/                  raw sources: parse, read by name, check schemas, preview
job_spec.py           a SQL job file and its header (the feature table's schema and rules)
job_graph.py          the order jobs run in (upstream first)
scaffold.py           ``featurestore init``: new projects from ``examples/``
errors.py             the library's exception tree
feast_import.py       importing Feast without typeguard where only the registry is read
store.py              the project's Feast FeatureStore
definitions.py        Feast sources and feature views derived from job headers
definition_errors.py  errors in a repo's definitions, named where they are made
plan.py, apply.py     registry changes, the models they affect, safe applies
catalog/              lineage, freshness, search
offline/, training.py point-in-time training sets
materialize/          our batch engine's work: latest rows to Feast's Redis layout
online/               online lookups from Feast's Redis layout
redis_layout.py, resp_wire.py  Feast's Redis keys and the RESP wire format
value_types.py        Feast's value types without importing Feast (for Spark's executors)
redis_server.py       a project's own local redis-server
loopback_redis.py     Redis Clusters on 127.0.0.1 for the tests and benchmarks
engine.py, spark/     the batch engine (DuckDB or Spark): jobs, training sets, materialization
feast_plugins/        thin adapters Feast loads by class path
cli/                  the ``featurestore`` command line (the top layer)
"""
