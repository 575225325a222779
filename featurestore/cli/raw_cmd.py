"""``featurestore raw list|describe|check|preview``: the project's declared raw sources."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from featurestore.errors import ConfigError
from featurestore.project import Project

app = typer.Typer(help="The raw sources declared in featurestore.yaml.", no_args_is_help=True)
console = Console()


def _where(project: Project, location: str) -> str:
    """A source's location with paths relative to the project folder."""
    return escape(location.replace(f"{project.root}/", ""))


def _source(project: Project, name: str) -> str:
    by_lower = {key.lower(): key for key in project.sources}
    if name.lower() not in by_lower:
        known = ", ".join(project.sources) or "none"
        raise ConfigError(f"unknown raw source {name!r}; declared sources: {known}")
    return by_lower[name.lower()]


@app.command("list")
def list_sources() -> None:
    """Every declared source: name, format, location, declared columns."""
    project = Project.find()
    table = Table("source", "format", "location", "columns", "description")
    for name, source in project.sources.items():
        declared = len(source.columns) if source.columns else "-"
        table.add_row(
            name, source.format, _where(project, source.location), str(declared),
            escape(source.description or ""),
        )  # fmt: skip
    console.print(table if project.sources else "no raw sources declared in featurestore.yaml")


@app.command()
def describe(name: str = typer.Argument(..., help="A declared source.")) -> None:
    """The source's columns and types as read, beside the declared ones."""
    from featurestore import raw, sql

    project = Project.find()
    source = project.sources[_source(project, name)]
    con = sql.connect()
    try:
        columns = raw.describe(con, source)
    finally:
        con.close()
    declared = dict(source.columns or {})
    title = f"{source.name} ({_where(project, source.location)})"
    table = Table("column", "type", "declared", title=title)
    for column, type_ in columns:
        table.add_row(escape(column), type_, declared.get(column, "-"))
    console.print(table)


@app.command()
def check(name: str = typer.Argument(None, help="Only this source (default: all).")) -> None:
    """Check sources against their declared columns; exit 1 naming the first mismatch."""
    from featurestore import raw, sql

    project = Project.find()
    names = [_source(project, name)] if name else list(project.sources)
    con = sql.connect()
    try:
        raw.check_sources(con, project.sources, only={n.lower() for n in names})
        for source in names:
            declared = project.sources[source].columns
            if declared:
                what = f"{len(declared)} declared columns match"
            else:  # nothing to compare: at least open it
                what = f"readable, {len(raw.describe(con, project.sources[source]))} columns"
                what += " (no columns declared)"
            console.print(f"{source}: ok, {what}", markup=False)
    finally:
        con.close()


@app.command()
def preview(
    name: str = typer.Argument(..., help="A declared source."),
    limit: int = typer.Option(10, min=0, help="Rows to show."),
) -> None:
    """The first rows of a source."""
    from featurestore import raw, sql

    project = Project.find()
    source = project.sources[_source(project, name)]
    con = sql.connect()
    try:
        rows = raw.preview(con, source, limit)
    finally:
        con.close()
    title = f"{source.name} ({_where(project, source.location)})"
    table = Table(*(escape(name) for name in rows.column_names), title=title)
    for record in rows.to_pylist():
        table.add_row(*("" if v is None else escape(str(v)) for v in record.values()))
    console.print(table)
