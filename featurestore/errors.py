"""Errors raised by the feature store library.

Every error the library raises on purpose derives from ``FeatureStoreError``;
callers (the CLI, the HTTP API) map these types to one clear line or to a 4xx
answer, and treat anything else as a bug.

    FeatureStoreError
    ├── ConfigError                 bad settings or a broken project layout
    │   ├── ProjectNotFoundError      no project file here or above
    │   └── SourceSpecError           a project file's ``sources:`` is malformed (a line each)
    ├── RawSourceError              a raw source cannot be read (names it and its safe location)
    ├── RedisServerError            the local redis-server cannot be found, started or reached
    │   └── ForeignRedisError         the server on the project's port is not the project's own
    ├── ConcurrentRegistryUpdateError  another writer changed the registry during an apply
    ├── BreakingChangeError         an apply would remove or retype features models use
    ├── DefinitionError             a repo file's definitions fail to load (file, line, object)
    ├── IngestionError              a feature job failed (SQL error, missing raw input)
    │   ├── JobDefinitionError        a job file's header is malformed (file and line)
    │   ├── UnknownJobError           no job by that name (lists the known ones)
    │   ├── MissingUpstreamError      a job reads a job that does not exist, or a cycle
    │   ├── JobSQLError               DuckDB rejected the job's SQL (file and line)
    │   ├── SchemaDriftError          a raw input or the query output differs from its schema
    │   │   └── RawSchemaDriftError       a raw source's columns differ from its declared ones
    │   ├── ExpectationError          a data-quality rule failed (rule, rows, examples)
    │   ├── WindowError               a time window that is empty or off the job's grain
    │   ├── UnknownTableError         a job reads a table no raw source, job or table declares
    │   ├── UnknownJobColumnError     a feature view names a column the job does not produce
    │   └── (ingestion.JobsFailedError) some jobs of a run failed: every job's result
    ├── MaterializationError        writing a feature view into Redis failed
    │   ├── InvalidWindowError        the window starts after it ends
    │   ├── UnknownFeatureViewError
    │   ├── UnsupportedViewError      a view our engine cannot write (not a file source...)
    │   ├── SourceError               a source file is missing or lacks a needed column
    │   └── OnlineWriteError          Redis refused a write
    ├── OnlineStoreUnavailableError the online store (Redis) did not answer in time
    ├── ServerBusyError             no capacity for this request now (all write threads busy)
    ├── RequestError                a lookup or retrieval request is invalid
    │   ├── UnknownFeatureError       a feature (``view:feature``) the registry does not know
    │   ├── UnknownFeatureServiceError
    │   ├── DuplicateFeatureError     the same feature asked for twice
    │   ├── MissingJoinKeyError       an entity join key the features need is absent
    │   ├── EntityTypeError           an entity value of the wrong type
    │   ├── TooManyEntitiesError      more entities in one request than the limit
    │   ├── TooManyFeaturesError      more feature refs in one request than the limit
    │   ├── RequestTooLargeError      a request body larger than the limit
    │   ├── UnknownObjectError        a feature view or push source the registry does not know
    │   │   └── UnknownFeatureTableError  a feature table no run has written yet
    │   ├── EntityTimestampError      an entity frame without a usable timestamp column
    │   ├── EntityColumnTypeError     an entity frame column of the wrong type
    │   └── InvalidRequestError       anything else wrong with the request's shape
    └── MonitorError                the monitor cannot answer the question asked
        ├── WindowSpecError           a window it cannot read (featurestore.monitor.windows)
        └── NoDataError               a window or serving log with no rows to compare
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class FeatureStoreError(Exception):
    """Root of every error the library raises on purpose."""

    code = "feature_store_error"


class ConfigError(FeatureStoreError):
    code = "config_error"


class ProjectNotFoundError(ConfigError):
    code = "project_not_found"


class SourceSpecError(ConfigError):
    """The ``sources:`` section of a project file is malformed: one line per mistake."""

    code = "source_spec_error"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class RawSourceError(FeatureStoreError):
    """A raw source cannot be read: a missing file, a database that is down or refuses us.

    ``location`` is the source's display location, never a secret (see ``RawSource.location``).
    """

    code = "raw_source_error"

    def __init__(self, source: str, location: str, problem: str) -> None:
        self.source = source
        self.location = location
        self.problem = problem
        super().__init__(f"raw source {source!r} ({location}): {problem}")


class RedisServerError(FeatureStoreError):
    code = "redis_error"


class ForeignRedisError(RedisServerError):
    """A server answers on the project's Redis port that this project did not start.

    ``pid`` and ``dir`` are what its INFO and CONFIG said, None when it did not tell;
    ``action`` is what was refused: ``"start"`` (the port is taken) or ``"stop"``.
    """

    code = "foreign_redis"

    def __init__(self, port: int, pid: int | None, dir: Path | None, action: str) -> None:
        self.port = port
        self.pid = pid
        self.dir = dir
        self.action = action
        who = f"pid {pid or 'unknown'}, dir {dir or 'unknown'}"
        if action == "start":
            message = (
                f"port {port} is taken by a server this project did not start ({who}); "
                "choose another port for this project"
            )
        else:
            message = (
                f"the server on port {port} ({who}) was not started by this project; "
                "left it running"
            )
        super().__init__(message)


class ConcurrentRegistryUpdateError(FeatureStoreError):
    code = "registry_conflict"

    def __init__(self, path: str, expected: object, found: str | None) -> None:
        self.path = path
        self.expected = expected
        self.found = found
        super().__init__(
            f"the registry {path} was changed by another writer after this process read it "
            f"(version {expected or 'none'} became {found or 'none'}); nothing was written, "
            "run the apply again"
        )


class BreakingChangeError(FeatureStoreError):
    code = "breaking_change"

    def __init__(self, problems: Sequence[str], services: Sequence[str]) -> None:
        self.problems = list(problems)
        self.services = sorted(set(services))
        super().__init__(
            f"refusing to apply: {'; '.join(self.problems)} "
            f"(feature services affected: {', '.join(self.services)})"
        )


class DefinitionError(FeatureStoreError):
    """Importing the Feast repo's definitions failed: a syntax or import error, or Feast
    refusing an object (a feature service selecting a feature its view lacks...)."""

    code = "definition_error"

    def __init__(self, path: Path, line: int, obj: str | None, message: str) -> None:
        self.path = path
        self.line = line
        self.obj = obj
        self.message = message
        defining = f" (defining {obj})" if obj else ""
        super().__init__(f"{path}:{line}{defining}: {message}")


class IngestionError(FeatureStoreError):
    code = "ingestion_error"

    def __init__(self, job: str, message: str) -> None:
        self.job = job
        self.message = message
        super().__init__(f"{job}: {message}")


class OnlineStoreUnavailableError(FeatureStoreError):
    code = "online_store_unavailable"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the online store (Redis) is unavailable: {reason}")


class ServerBusyError(FeatureStoreError):
    code = "server_busy"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the server is busy, retry shortly: {reason}")


class JobDefinitionError(IngestionError):
    code = "job_definition_error"

    def __init__(self, path: Path, problem: str, line: int | None = None) -> None:
        self.path = path
        self.problem = problem
        self.line = line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(path.stem, f"{where}: {problem}")


class UnknownJobError(IngestionError):
    code = "unknown_job"

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(name, f"unknown job; known jobs: {', '.join(self.known) or 'none'}")


class MissingUpstreamError(IngestionError):
    code = "missing_upstream"

    def __init__(self, job: str, path: Path, upstream: str, problem: str) -> None:
        self.path = path
        self.upstream = upstream
        super().__init__(job, f"{path}: upstream job {upstream!r} {problem}")


class JobSQLError(IngestionError):
    code = "job_sql_error"

    def __init__(self, job: str, path: Path, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}:{line}" if line else str(path)
        super().__init__(job, f"{where}: {problem}")


class SchemaDriftError(IngestionError):
    code = "schema_drift"

    def __init__(self, job: str, table: str, problems: Sequence[str]) -> None:
        self.table = table
        self.problems = list(problems)
        super().__init__(
            job, f"schema drift in {table}: {'; '.join(self.problems)}; nothing was written"
        )


class RawSchemaDriftError(SchemaDriftError):
    """A raw source's columns differ from the ones its project file declares."""

    code = "raw_schema_drift"

    def __init__(self, source: str, location: str, problems: Sequence[str]) -> None:
        self.source = source
        self.location = location
        self.table = source
        self.problems = list(problems)
        # The job attribute is the source; the message names it once, not "job: ...".
        self.job = source
        self.message = (
            f"raw source {source!r} ({location}) differs from its declared columns: "
            f"{'; '.join(self.problems)}"
        )
        FeatureStoreError.__init__(self, self.message)


class ExpectationError(IngestionError):
    code = "expectation_failed"

    def __init__(
        self, job: str, rule: str, rows: int, total: int, examples: Sequence[str], why: str
    ) -> None:
        self.rule = rule
        self.rows = rows
        self.total = total
        self.examples = list(examples)
        shown = f"; e.g. {' / '.join(self.examples)}" if self.examples else ""
        super().__init__(
            job,
            f"rule {rule!r} failed for {rows:,} of {total:,} rows ({why}); "
            f"the table was left untouched{shown}",
        )

    @staticmethod
    def example(names: Sequence[str], row: Sequence[object]) -> str:
        """One offending row as shown in ``examples``: ``name=value, ...``, strings quoted."""
        pairs = zip(names, row, strict=True)
        return ", ".join(f"{n}={v!r}" if isinstance(v, str) else f"{n}={v}" for n, v in pairs)


class WindowError(IngestionError):
    code = "bad_window"


class UnknownTableError(IngestionError):
    code = "unknown_table"

    def __init__(self, job: str, path: Path, table: str, sources: Sequence[str]) -> None:
        self.path = path
        self.table = table
        self.sources = list(sources)
        declared = ", ".join(self.sources) or "none"
        super().__init__(
            job,
            f"{path} reads table {table!r}, which is neither a declared raw source nor a "
            f"feature job; declared raw sources: {declared} (sources: in featurestore.yaml)",
        )


class UnknownJobColumnError(IngestionError):
    code = "unknown_job_column"

    def __init__(self, job: str, path: Path, columns: Sequence[str], known: Sequence[str]) -> None:
        self.path = path
        self.columns = list(columns)
        self.known = list(known)
        super().__init__(
            job,
            f"{path} does not produce column(s) {', '.join(self.columns)}; "
            f"it produces: {', '.join(self.known)}",
        )


class RequestError(FeatureStoreError):
    code = "invalid_request"


class UnknownFeatureError(RequestError):
    code = "unknown_feature"

    def __init__(self, features: Sequence[str], known_views: Sequence[str] = ()) -> None:
        self.features = list(features)
        self.known_views = list(known_views)
        names = ", ".join(repr(f) for f in self.features)
        super().__init__(f"unknown feature(s): {names}")


class UnknownFeatureServiceError(RequestError):
    code = "unknown_feature_service"

    def __init__(self, name: str, known: Sequence[str] = ()) -> None:
        self.name = name
        self.known = sorted(known)
        hint = f"; known feature services: {', '.join(self.known)}" if self.known else ""
        super().__init__(f"unknown feature service {name!r}{hint}")


class DuplicateFeatureError(RequestError):
    code = "duplicate_feature"

    def __init__(self, features: Sequence[str]) -> None:
        self.features = list(features)
        super().__init__(f"feature(s) requested more than once: {', '.join(self.features)}")


class MissingJoinKeyError(RequestError):
    code = "missing_join_key"

    def __init__(self, join_keys: Sequence[str]) -> None:
        self.join_keys = list(join_keys)
        super().__init__(f"missing join key(s): {', '.join(self.join_keys)}")


class EntityTypeError(RequestError):
    code = "wrong_entity_type"

    def __init__(self, join_key: str, expected: str, value: object) -> None:
        self.join_key = join_key
        self.expected = expected
        self.value = value
        super().__init__(
            f"entity {join_key!r} expects {expected} values, got {value!r} ({type(value).__name__})"
        )


class TooManyEntitiesError(RequestError):
    code = "too_many_entities"

    def __init__(self, count: int, limit: int) -> None:
        self.count = count
        self.limit = limit
        super().__init__(f"{count} entities in one request; the limit is {limit}")


class TooManyFeaturesError(RequestError):
    code = "too_many_features"

    def __init__(self, count: int, limit: int) -> None:
        self.count = count
        self.limit = limit
        super().__init__(f"{count} features in one request; the limit is {limit}")


class RequestTooLargeError(RequestError):
    code = "request_too_large"

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"request body of {size} bytes; the limit is {limit} bytes")


class UnknownObjectError(RequestError):
    code = "not_found"

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"unknown {kind} {name!r}")


class UnknownFeatureTableError(UnknownObjectError):
    """A table no run has written yet; the message names the tables that have data."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__("feature table", name)
        self.known = sorted(known)
        listed = ", ".join(self.known) or "none yet (featurestore ingest run writes them)"
        self.args = (f"unknown feature table {name!r}; feature tables with data: {listed}",)


class InvalidRequestError(RequestError):
    code = "invalid_request"


class MaterializationError(FeatureStoreError):
    """Materialization into the online store failed; a re-run repairs what was written."""

    code = "materialization_error"


class InvalidWindowError(MaterializationError):
    code = "invalid_window"

    def __init__(self, start: object, end: object) -> None:
        self.start = start
        self.end = end
        super().__init__(f"the window starts ({start}) after it ends ({end})")


class UnknownFeatureViewError(MaterializationError):
    code = "unknown_feature_view"

    def __init__(self, names: Sequence[str], known: Sequence[str] = ()) -> None:
        self.names = list(names)
        self.known = sorted(known)
        hint = f"; known feature views: {', '.join(self.known)}" if self.known else ""
        super().__init__(f"unknown feature view(s): {', '.join(self.names)}{hint}")


class UnsupportedViewError(MaterializationError):
    code = "unsupported_feature_view"

    def __init__(self, view: str, reason: str) -> None:
        self.view = view
        self.reason = reason
        super().__init__(f"feature view {view!r} cannot be materialized here: {reason}")


class SourceError(MaterializationError):
    """A feature view's source is missing or lacks the columns the view needs."""

    code = "source_error"

    def __init__(self, view: str, path: str, problem: str) -> None:
        self.view = view
        self.path = path
        self.problem = problem
        super().__init__(f"feature view {view!r}: source {path}: {problem}")


class OnlineWriteError(MaterializationError):
    code = "online_write_error"


class EntityTimestampError(RequestError):
    """The entity frame has no timestamp column, or more than one candidate."""

    code = "missing_timestamp_column"

    def __init__(self, column: str, columns: Sequence[str]) -> None:
        self.column = column
        self.columns = list(columns)
        super().__init__(
            f"the entity frame has no timestamp column {column!r} "
            f"(columns: {', '.join(self.columns) or 'none'})"
        )


class EntityColumnTypeError(RequestError):
    """An entity frame column whose type cannot be joined or compared."""

    code = "wrong_column_type"

    def __init__(self, column: str, expected: str, actual: str) -> None:
        self.column = column
        self.expected = expected
        self.actual = actual
        super().__init__(f"entity frame column {column!r} has type {actual}; expected {expected}")


class MonitorError(FeatureStoreError):
    code = "monitor_error"


class WindowSpecError(MonitorError):
    code = "bad_window"


class NoDataError(MonitorError):
    code = "no_data"


class EngineUnavailableError(ConfigError):
    """The chosen batch engine cannot start here (Spark without Java, a bad master URL);
    the message says what is missing and how to get it."""

    code = "engine_unavailable"


class TranspileError(JobSQLError):
    """A job's DuckDB SQL that sqlglot cannot express in Spark SQL, found before any run."""

    code = "transpile_error"
