"""The spark engine: the same jobs, training sets and materialization on Apache Spark.

session.py      the process's one SparkSession, and the checks before it starts
transpile.py    a job's DuckDB SQL as Spark SQL (sqlglot), or an error naming the line
sources.py      raw sources and feature tables as Spark temp views
jobs.py         a job's run on Spark: the runner's checks, quarantine and partition swap
training.py     the point-in-time join on Spark (Feast's retrieval job types)
materialize.py  the latest row per entity on Spark, written to Redis by the executors

Nothing here is imported by a DuckDB project: pyspark and Java are needed only when
``engine: spark`` is chosen.
"""
