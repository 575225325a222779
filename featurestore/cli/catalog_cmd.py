"""``featurestore catalog ...``: browse features, models and lineage."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from featurestore.feast_import import skip_typechecks
from featurestore.project import Project

app = typer.Typer(
    help="Browse the feature catalog: lineage, freshness, models.", no_args_is_help=True
)
console = Console()


def _catalog() -> Any:
    skip_typechecks()  # reads the registry only: Feast without typeguard's instrumentation
    from featurestore.catalog import load_catalog
    from featurestore.store import open_store

    project = Project.find()
    return load_catalog(open_store(project), project)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@app.command("views")
def views() -> None:
    """Feature views with their job, entities, freshness and the models using them."""
    table = Table("view", "job", "entities", "features", "rows", "latest event", "used by")
    for view in _catalog().views.values():
        table.add_row(
            view.name,
            view.job.name if view.job else "-",
            ", ".join(view.join_keys),
            str(len(view.features)),
            f"{view.freshness.rows:,}" if view.freshness.rows is not None else "-",
            _when(view.freshness.latest_event),
            ", ".join(view.used_by) or "-",
        )
    console.print(table)


@app.command("services")
def services() -> None:
    """Feature services (one per model) and what they need."""
    table = Table("feature service", "owner", "views", "features", "join keys")
    for service in _catalog().services.values():
        table.add_row(
            service.name,
            service.owner,
            ", ".join(service.views),
            str(len(service.features)),
            ", ".join(service.join_keys),
        )
    console.print(table)


@app.command("feature")
def feature(ref: str = typer.Argument(..., help="view:feature")) -> None:
    """One feature: type, description, owner, tags, job, freshness, models, as JSON."""
    catalog = _catalog()
    document = {**catalog.feature(ref).to_dict(), "lineage": catalog.lineage(ref)}
    console.print_json(json.dumps(document, default=str))


@app.command("search")
def search(
    text: str = typer.Argument("", help="Words to find in names, tags, descriptions."),
    tag: str = typer.Option(None, help="Only features with this tag (key or key:value)."),
    entity: str = typer.Option(None, help="Only features of this entity or join key."),
) -> None:
    """Find features by name, tag, entity or description."""
    hits = _catalog().search(text, tag=tag, entity=entity)
    table = Table("feature", "type", "description", "matched", "used by")
    for hit in hits:
        f = hit.feature
        table.add_row(f.ref, f.dtype, f.description, ", ".join(hit.matched), ", ".join(f.used_by))
    console.print(table)
    console.print(f"{len(hits)} feature(s)")


@app.command("new-model")
def new_model(
    name: str = typer.Argument(..., help="The new feature service (model) name."),
    features: list[str] = typer.Argument(..., help="Existing features, as view:feature."),
    description: str = typer.Option("", help="What the model predicts."),
    owner: str = typer.Option("", help="Who owns the model."),
) -> None:
    """Write feature_repo/<name>.py: a feature service over existing features.

    Then `featurestore plan` shows the change and `featurestore apply` registers it.
    """
    skip_typechecks()
    from featurestore.catalog import feature_service_module

    settings = Project.find()
    code = feature_service_module(_catalog(), name, features, description=description, owner=owner)
    target = settings.repo_path / f"{name}.py"
    if target.exists():
        raise typer.BadParameter(f"{target} exists already")
    target.write_text(code)
    console.print(f"wrote {target}; next: featurestore plan && featurestore apply")
