"""``featurestore push``: rows from a file or stdin, the push log's compaction, a stream.

featurestore push SOURCE FILE|-        push rows (CSV, Parquet, JSON, JSON lines)
featurestore push compact [TABLE...]   fold the push logs into the feature tables
featurestore push consume STREAM SOURCE   consume a Redis Stream until Ctrl-C
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

console = Console(stderr=True)
out = Console()

_HELP = (
    "Push rows through a push source (SOURCE FILE|-), or: `compact [TABLE...]` to fold "
    "the push logs into the feature tables, `consume STREAM SOURCE` to consume a Redis "
    "Stream."
)
BATCH = 10_000


def push(
    source: str = typer.Argument(..., help="Push source name, or `compact` / `consume`."),
    args: list[str] = typer.Argument(
        None, help="FILE or - (stdin); for compact, tables; for consume, STREAM SOURCE."
    ),
    to: str = typer.Option(
        "online_and_offline", "--to", help="online, offline or online_and_offline."
    ),
    on_bad_rows: str = typer.Option(
        None, "--on-bad-rows", help="reject (write nothing if a row is bad) or quarantine."
    ),
    file_format: str = typer.Option(
        None, "--format", help="csv, parquet, json or jsonl (default: from the file name)."
    ),
    compact_after: bool = typer.Option(False, "--compact", help="Compact the log afterwards."),
    group: str = typer.Option("featurestore", "--group", help="consume: the consumer group."),
) -> None:
    """Push rows through a push source, checked by its declared rules."""
    from featurestore.feast_import import skip_typechecks

    skip_typechecks()
    from featurestore.project import Project

    project = Project.find()
    args = list(args or [])
    if source == "compact":
        _compact(project, args)
        return
    if source == "consume":
        if len(args) != 2:
            raise typer.BadParameter("usage: featurestore push consume STREAM SOURCE")
        _consume(project, args[0], args[1], group, to)
        return
    if len(args) != 1:
        raise typer.BadParameter("usage: featurestore push SOURCE FILE|-")
    _push_file(project, source, args[0], to, on_bad_rows, file_format, compact_after)


def _push_file(
    project: Any,
    source: str,
    name: str,
    to: str,
    on_bad_rows: str | None,
    file_format: str | None,
    compact_after: bool,
) -> None:
    from featurestore.push.service import BadRowsError, PushService
    from featurestore.push.validate import check_rows

    service = PushService.for_project(project)
    try:
        plan = service.plan("push source", source)
        table = read_rows(name, file_format, plan.schema)
        mode = on_bad_rows or (plan.spec.on_bad_rows if plan.spec else "reject")
        if mode == "reject":  # every batch checked before any is written
            for start in range(0, _size(table), BATCH):
                checked = check_rows(plan.schema, _slice(table, start))
                if checked.bad_rows:
                    for problem in checked.problems:
                        object.__setattr__(problem, "row", problem.row + start)
                    raise BadRowsError(checked)
        totals: dict[str, int] = {}
        from rich.progress import Progress

        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"pushing to {source}", total=_size(table))
            for start in range(0, max(_size(table), 1), BATCH):
                result = service.push(source, _slice(table, start), to=to, on_bad_rows=mode)
                for key, value in result.as_dict().items():
                    totals[key] = totals.get(key, 0) + value
                progress.advance(task, result.rows)
    finally:
        service.close()  # seals this process's log segment: compaction can take it
    out.print(
        f"{source}: {totals.get('rows', 0):,} rows, {totals.get('accepted', 0):,} accepted, "
        f"{totals.get('quarantined', 0):,} quarantined; online {totals.get('online_written', 0):,} "
        f"written, {totals.get('online_skipped', 0):,} not newer; "
        f"{totals.get('logged', 0):,} logged offline",
        highlight=False,
        markup=False,
    )
    if compact_after and plan.spec is not None:
        _compact(project, [plan.spec.name])


def _size(rows: Any) -> int:
    if isinstance(rows, dict):
        return len(next(iter(rows.values()), []))
    return int(rows.num_rows)


def _slice(rows: Any, start: int) -> Any:
    if isinstance(rows, dict):
        return {name: values[start : start + BATCH] for name, values in rows.items()}
    return rows.slice(start, BATCH)


def read_rows(name: str, file_format: str | None, schema: Any) -> Any:
    """A file (or stdin, ``-``) as an Arrow table, or JSON columns (checked as ``/push``
    checks them); CSV read with the declared types of its
    float columns (CSV text has no int/float distinction)."""
    import orjson
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    from featurestore.errors import InvalidRequestError

    data = sys.stdin.buffer.read() if name == "-" else None
    path = Path(name)
    kind = file_format or (path.suffix.lstrip(".").lower() if name != "-" else "json")
    if name != "-" and not path.is_file():
        raise InvalidRequestError(f"no such file: {name}")
    raw = data if data is not None else path.read_bytes()
    try:
        if kind == "parquet":
            return pq.read_table(io.BytesIO(raw))
        if kind == "csv":
            floats = {c.name: c.arrow_type for c in schema.columns if c.arrow_type in
                      (pa.float64(), pa.float32(), pa.string())}  # fmt: skip
            options = pacsv.ConvertOptions(column_types=floats, strings_can_be_null=True)
            return pacsv.read_csv(io.BytesIO(raw), convert_options=options)
        if kind in ("jsonl", "ndjson"):
            return pajson.read_json(io.BytesIO(raw))
        if kind == "json":
            stripped = raw.lstrip()
            if stripped.startswith(b"{") and b"\n{" not in stripped.strip():
                document = orjson.loads(raw)
                columns = document.get("df", document) if isinstance(document, dict) else None
                if isinstance(columns, dict):
                    return columns
            if stripped.startswith(b"["):
                records = orjson.loads(raw)
                names = {k for r in records for k in r} if isinstance(records, list) else set()
                return {n: [r.get(n) for r in records] for n in sorted(names)}
            return pajson.read_json(io.BytesIO(raw))
    except (pa.ArrowException, orjson.JSONDecodeError, AttributeError, TypeError) as exc:
        raise InvalidRequestError(f"cannot read {name} as {kind}: {exc}") from None
    raise InvalidRequestError(f"unknown format {kind!r}: use csv, parquet, json or jsonl")


def _compact(project: Any, tables: list[str]) -> None:
    from featurestore.errors import UnknownObjectError
    from featurestore.push.compact import compact
    from featurestore.push.spec import read_pushes

    specs = read_pushes(project.jobs_dir)
    unknown = [t for t in tables if t.removesuffix("_push") not in specs]
    if unknown:
        raise UnknownObjectError("push source", unknown[0])
    chosen = [specs[t.removesuffix("_push")] for t in tables] if tables else list(specs.values())
    for spec in chosen:
        result = compact(project, spec)
        if result.skipped:
            out.print(f"{spec.name}: skipped ({result.skipped})", markup=False)
        elif not result.segments:
            out.print(f"{spec.name}: nothing to compact", markup=False)
        else:
            out.print(
                f"{spec.name}: {result.segments} log segment(s), {result.rows:,} rows -> "
                f"{result.written:,} new in {result.partitions} partition(s), "
                f"{result.quarantined:,} quarantined, in {result.seconds:.2f} s",
                markup=False,
                highlight=False,
            )


def _consume(project: Any, stream: str, source: str, group: str, to: str) -> None:
    from featurestore.push.service import PushService
    from featurestore.push.stream import StreamConsumer

    service = PushService.for_project(project)
    consumer = StreamConsumer(service, service.online.client, stream, source, group=group, to=to)
    console.print(f"consuming {stream} into {source} (group {group}); Ctrl-C stops", markup=False)
    try:
        consumer.run()
    except KeyboardInterrupt:
        pass
    finally:
        service.close()
        stats = consumer.stats
        summary = f"{stats.read:,} read, {stats.pushed:,} pushed, {stats.dead:,} dead-lettered"
        out.print(f"{stream}: {summary}", markup=False)
