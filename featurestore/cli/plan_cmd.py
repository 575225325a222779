"""``featurestore plan`` and ``featurestore apply``: registry changes, checked for models.

Both load the user's definitions, so they import Feast as it is, with typeguard's checks
on those definitions' arguments (not through ``featurestore.feast_import``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from featurestore.project import Project

if TYPE_CHECKING:
    from featurestore.plan import Plan

console = Console()


def _print(result: Plan) -> None:
    if not result.changes:
        console.print("no changes: the registry matches the definitions")
        return
    table = Table("change", "object", "name", "detail", "models affected", "breaking")
    for c in result.changes:
        table.add_row(
            c.kind,
            c.object.replace("_", " "),
            c.name,
            c.detail,
            ", ".join(c.affected_services) or "-",
            "BREAKING" if c.breaking else "",
        )
    console.print(table)


def plan() -> None:
    """Show what `apply` would change and which models (feature services) it affects."""
    from featurestore.apply import plan_apply
    from featurestore.plan import describe_breaking

    result = plan_apply(Project.find())
    _print(result)
    if result.breaking:
        for line in describe_breaking(result):
            console.print(f"[red]breaking:[/red] {line}")
        raise typer.Exit(2)


def apply(
    allow_breaking: bool = typer.Option(
        False, "--allow-breaking", help="Apply even if models lose or change features."
    ),
) -> None:
    """Apply the definitions to the registry, refusing changes that break models."""
    from featurestore.apply import apply as apply_definitions

    result = apply_definitions(Project.find(), allow_breaking=allow_breaking)
    _print(result)
    console.print("applied")
