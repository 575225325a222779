"""A project's raw sources and feature tables as Spark temp views, by the names SQL uses.

How each kind of source reaches Spark:

- Parquet, CSV and JSON files are read by Spark itself (the executors), a folder as
  hive-partitioned files, a glob as written. CSV and JSON are read as text and cast
  to the declared columns' types with Spark's CAST, so nothing is inferred (as on
  DuckDB); Parquet keeps its own types, which ``featurestore raw check`` compares with
  the declared ones. A Parquet TIMESTAMP(NANOS) column, which Spark refuses to read,
  is read as its INT64 and converted to microseconds;
- PostgreSQL through JDBC when Debian's driver (libpostgresql-jdbc-java, installed by
  ``make spark``) is on the session's class path, in one partition per source;
- DuckDB and SQLite database files, and PostgreSQL without the JDBC driver, are read
  on the driver through the DuckDB path (``Project.connect``) and handed to Spark as
  Arrow: right for the dimension tables such sources usually are, not for large facts
  (put those in Parquet).

Feature tables are read from their current version's partition folders, with their
``partition_date`` (and ``partition_hour``) columns dropped: a job sees the columns
it declared, as on DuckDB.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.errors import RawSourceError
from featurestore.project import Project
from featurestore.raw.scan import EXTENSIONS
from featurestore.raw.spec import RawSource
from featurestore.raw.urls import expand, safe_url
from featurestore.spark import types
from featurestore.spark.session import JDBC_JARS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

PARTITION_COLUMNS = ("partition_date", "partition_hour")


def register(spark: SparkSession, project: Project, names: Collection[str]) -> list[str]:
    """Make each of ``names`` that is a raw source or feature table a temp view."""
    wanted = {name.lower() for name in names}
    registered = []
    for name, source in project.sources.items():
        if name.lower() in wanted:
            read_source(spark, project, source).createOrReplaceTempView(name)
            registered.append(name)
    for name, path in project.layout.feature_tables().items():
        if name.lower() in wanted and any(path.rglob("*.parquet")):
            frame = spark.read.parquet(str(path))
            frame = frame.drop(*[c for c in PARTITION_COLUMNS if c in frame.columns])
            frame.createOrReplaceTempView(name)
            registered.append(name)
    return registered


def read_source(spark: SparkSession, project: Project, source: RawSource) -> DataFrame:
    """The whole of ``source`` as a DataFrame; a source that cannot be read is a
    ``RawSourceError`` naming it."""
    try:
        if source.format == "parquet":
            return _parquet(spark, source)
        if source.format in ("csv", "json"):
            return _text(spark, source)
        if source.format == "postgres" and JDBC_JARS[0].exists():
            return _jdbc(spark, source)
        return _through_duckdb(spark, project, source)
    except RawSourceError:
        raise
    except Exception as exc:  # Spark's AnalysisException and py4j errors
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RawSourceError(source.name, source.location, first) from None


def _files(source: RawSource) -> tuple[str, list[Path]]:
    assert source.path is not None
    ext = EXTENSIONS[source.format]
    if source.is_glob:
        base = Path(str(source.path).split("*")[0]).parent
        return str(source.path), sorted(base.glob(str(source.path.relative_to(base))))
    if source.path.is_dir():
        return str(source.path), sorted(source.path.rglob(f"*.{ext}"))
    if not source.path.exists():
        raise RawSourceError(source.name, source.location, "no such file")
    return str(source.path), [source.path]


def _parquet(spark: SparkSession, source: RawSource) -> DataFrame:
    from pyspark.sql import functions as F

    where, files = _files(source)
    if not files:
        raise RawSourceError(source.name, source.location, "no Parquet files there")
    schema = pq.read_schema(files[0])
    nanos = [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]
    reader = spark.read
    if nanos:
        reader = reader.option("spark.sql.legacy.parquet.nanosAsLong", "true")
        spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    frame = reader.parquet(where)
    for name in nanos:
        aware = schema.field(name).type.tz is not None
        micros = F.timestamp_micros(F.floor(F.col(name) / 1000))
        frame = frame.withColumn(name, micros if aware else micros.cast("timestamp_ntz"))
    return frame


def _text(spark: SparkSession, source: RawSource) -> DataFrame:
    """CSV or JSON read as strings, then cast to the declared types (nothing inferred)."""
    from pyspark.sql import functions as F

    where, files = _files(source)
    if not files:
        raise RawSourceError(source.name, source.location, f"no {source.format} files there")
    options = dict(source.options)
    if source.format == "csv":
        header = options.pop("header", True)
        sep = (
            options.pop("delim", None) or options.pop("delimiter", None) or options.pop("sep", ",")
        )
        reader = spark.read.option("header", str(bool(header)).lower()).option("sep", str(sep))
        for ours, theirs in (("quote", "quote"), ("escape", "escape"), ("nullstr", "nullValue")):
            if ours in options:
                reader = reader.option(theirs, str(options.pop(ours)))
        reader = reader.option("inferSchema", "false")
        if options:
            raise RawSourceError(
                source.name, source.location,
                f"option(s) {', '.join(sorted(options))} are not supported on the spark engine",
            )  # fmt: skip
        frame = reader.csv(where)
    else:
        frame = spark.read.option("primitivesAsString", "true").json(where)
    declared = source.columns or {}
    columns = []
    for name in frame.columns:
        duck = declared.get(name)
        columns.append(F.col(name).cast(types.spark_ddl(duck)).alias(name) if duck else F.col(name))
    return frame.select(*columns)


def _jdbc(spark: SparkSession, source: RawSource) -> DataFrame:
    """PostgreSQL through Debian's JDBC driver; the password never reaches an error."""
    from urllib.parse import unquote, urlsplit

    assert source.url is not None
    parts = urlsplit(expand(source.url))
    host = parts.hostname or "127.0.0.1"
    url = f"jdbc:postgresql://{host}:{parts.port or 5432}{parts.path}"
    reader = spark.read.format("jdbc").option("url", url)
    reader = reader.option("driver", "org.postgresql.Driver")
    if parts.username:
        reader = reader.option("user", unquote(parts.username))
    if parts.password:
        reader = reader.option("password", unquote(parts.password))
    if source.table is not None:
        reader = reader.option("dbtable", source.table)
    else:
        assert source.query is not None
        reader = reader.option("query", source.query.strip().rstrip(";"))
    try:
        frame = reader.load()
        frame.schema  # noqa: B018  (connects: a wrong password fails here, not later)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if parts.password:
            first = first.replace(unquote(parts.password), "***")
        raise RawSourceError(source.name, safe_url(source.url), first) from None
    return frame


def _through_duckdb(spark: SparkSession, project: Project, source: RawSource) -> DataFrame:
    """A database source read on the driver by the DuckDB path, handed over as Arrow."""
    con = project.connect({source.name})
    try:
        table = con.execute(f'SELECT * FROM "{source.name}"').to_arrow_table()
    finally:
        con.close()
    return to_spark(spark, table)


def to_spark(spark: SparkSession, table: pa.Table) -> DataFrame:
    """An Arrow table as a DataFrame: nanosecond timestamps become microseconds (Spark
    has none), and an empty table keeps its schema."""
    table = types.spark_safe(table)
    if table.num_rows == 0:
        return spark.createDataFrame([], types.spark_schema(table.schema))
    return spark.createDataFrame(table)


def spark_types(frame: DataFrame) -> Mapping[str, str]:
    """The frame's columns and their types in DuckDB's names."""
    return {field.name: types.duckdb_name(field.dataType) for field in frame.schema.fields}
