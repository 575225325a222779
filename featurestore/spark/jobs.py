"""One run of a job on Spark: the same checks, quarantine and partition files as on DuckDB.

``ingestion.runner.run_job`` calls ``check_and_write`` in place of its DuckDB pass and
does everything else itself (run history, quarantine file, table-level rules, the
atomic version swap, statistics), so both engines fail, quarantine and commit alike.

1. the job's tables are registered (``featurestore.spark.sources``), its SQL transpiled
   (``featurestore.spark.transpile``; a construct Spark lacks fails here, naming the
   line) and analysed by Spark; the output's types, in DuckDB's names, go through the
   same ``plan_checks`` as on DuckDB (schema drift fails before any work);
2. the checked query (the runner's casts, rule CASE and window filter, written once in
   DuckDB SQL and transpiled) is computed once and cached;
3. from it: the rows per rule (one aggregate), the bad rows (collected to the driver for
   the quarantine: they are few, or the run fails on ``max_bad_rows``), the key and
   timestamp pairs that repeat (the run fails, as on DuckDB), and the good rows,
   written by the executors into the staging folder, one file per partition, sorted by
   timestamp and keys within it as DuckDB's runner writes them. Columns are written
   nullable, as DuckDB writes them, so both engines' files read back with one schema.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from featurestore import job_graph
from featurestore.errors import ExpectationError, JobSQLError
from featurestore.job_spec import Job
from featurestore.project import Project
from featurestore.spark import sources, transpile
from featurestore.spark.session import spark_session
from ingestion import partitions, storage
from ingestion.checks import CheckPlan, plan_checks

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_EXAMPLES = 3
_functions: dict[int, frozenset[str]] = {}


@dataclass
class SparkPass(partitions.Pass):
    """``partitions.Pass`` plus the plan the rows were checked with."""

    plan: CheckPlan | None = None
    duplicate_error: ExpectationError | None = None


def check_and_write(
    project: Project,
    job: Job,
    span: tuple[datetime, datetime],
    staging: Path,
    window_sql: str,
) -> SparkPass:
    """Compute ``job`` over ``span`` on Spark and write its good rows under ``staging``."""
    spark = spark_session(project.engine.spark)
    sources.register(spark, project, job_graph.tables_read(job))
    query = transpile.to_spark(
        job.render(*span), job=job.name, path=job.path, functions=spark_functions(spark)
    )
    frame = _analysed(spark, job, query)
    plan = plan_checks(job, dict(sources.spark_types(frame)))
    view = f"__job_{job.name}"  # jobs of one level run at once on the shared session
    frame.createOrReplaceTempView(view)
    select = ", ".join([*plan.output, *plan.raw, f"{plan.rule_sql()} AS {partitions.RULE}"])
    checked_sql = transpile.to_spark(
        f"SELECT {select} FROM {view} WHERE {window_sql}", job=job.name, path=job.path
    )
    from pyspark import StorageLevel

    checked = _analysed(spark, job, checked_sql).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        found = SparkPass(plan=plan)
        for row in checked.groupBy(partitions.RULE).count().collect():
            found.rows_in += int(row["count"])
            if row[partitions.RULE] is not None:
                found.bad_by_rule[row[partitions.RULE]] += int(row["count"])
        if found.bad_by_rule:
            bad = checked.filter(f"{partitions.RULE} IS NOT NULL").toArrow()
            found.bad = bad.to_batches() or [pa.RecordBatch.from_pylist([], bad.schema)]
        good = checked.filter(f"{partitions.RULE} IS NULL").select(*plan.written)
        if found.rows_in > found.bad_rows:
            found.duplicate_error = _duplicates(good, job, found.rows_in)
            found.duplicates = found.duplicate_error is not None
            if not found.duplicates:
                found.files = _write(spark, good, job, staging)
        return found
    finally:
        checked.unpersist()


def spark_functions(spark: SparkSession) -> frozenset[str]:
    """Every function name Spark SQL knows (built-in and registered), lower case."""
    key = id(spark)
    if key not in _functions:
        names = spark.sql("SHOW FUNCTIONS").collect()
        _functions[key] = frozenset(row[0].lower() for row in names)
    return _functions[key]


def _analysed(spark: SparkSession, job: Job, query: str) -> DataFrame:
    """``query`` parsed and analysed by Spark; its complaint is the job's SQL error."""
    try:
        frame = spark.sql(query)
        frame.schema  # noqa: B018  (analysis happens here)
    except Exception as exc:  # AnalysisException, ParseException
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise JobSQLError(job.name, job.path, None, f"Spark: {first}") from None
    return frame


def _duplicates(good: DataFrame, job: Job, rows_in: int) -> ExpectationError | None:
    """The run's error when two good rows share keys and timestamp, else None."""
    from pyspark.sql import functions as F

    keys = [*job.entities, job.timestamp]
    repeated = good.groupBy(*keys).count().filter(F.col("count") > 1)
    totals = repeated.agg(F.count(F.lit(1)).alias("pairs"), F.sum("count").alias("rows"))
    pairs, rows = totals.collect()[0]
    if not pairs:
        return None
    # Through Arrow: collect() would turn timestamps into naive local datetimes.
    examples = repeated.orderBy(*keys).limit(_EXAMPLES).toArrow().to_pylist()
    names = [*keys, "rows"]
    shown = [ExpectationError.example(names, list(row.values())) for row in examples]
    return ExpectationError(
        job.name,
        f"unique ({', '.join(keys)})",
        int(rows or 0),
        rows_in,
        shown,
        f"{int(pairs):,} key and timestamp pairs appear more than once",
    )


def _write(spark: SparkSession, good: DataFrame, job: Job, staging: Path) -> int:
    """Good rows into ``staging/partition_date=.../part-0.parquet`` (and the hour folder
    for the hour grain), one file per partition, by the executors; the file count."""
    from pyspark.sql import functions as F

    names = list(storage.PARTITION_COLUMNS[job.grain])
    ts = F.col(job.timestamp)
    derived = {"partition_date": F.date_format(ts, "yyyyMMdd").cast("int")}
    if job.grain == "hour":
        derived["partition_hour"] = F.hour(ts)
    # Nullable as DuckDB writes every column: Spark marks count(*) and the like NOT NULL,
    # and folds any constant condition away, so the guard is one it cannot evaluate.
    always = F.spark_partition_id() >= 0
    nullable = {f.name: F.when(always, F.col(f.name)) for f in good.schema.fields if not f.nullable}
    rows = good.withColumns({**nullable, **{n: derived[n] for n in names}})
    order = [*names, job.timestamp, *job.entities]
    out = staging / ".spark"
    (
        rows.repartition(*names)
        .sortWithinPartitions(*order)
        .write.mode("overwrite")
        .option("compression", "zstd")
        .partitionBy(*names)
        .parquet(str(out))
    )
    files = 0
    for part in sorted(out.rglob("*.parquet")):
        folder = staging / part.parent.relative_to(out)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "part-0.parquet"
        if target.exists():  # two tasks wrote one partition: cannot happen after repartition
            raise RuntimeError(f"Spark wrote more than one file for partition {folder.name}")
        os.replace(part, target)
        storage.fsync_path(target)
        storage.fsync_path(folder)
        if len(names) > 1:
            storage.fsync_path(folder.parent)
        files += 1
    shutil.rmtree(out, ignore_errors=True)
    return files
