"""``featurestore demo lookup``: one real online lookup over HTTP, printed."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from featurestore.errors import FeatureStoreError
from featurestore.project import Project

app = typer.Typer(help="Steps of `make demo`.", no_args_is_help=True)
console = Console()


@app.command()
def lookup(
    url: str = typer.Option("http://127.0.0.1:6566", help="The API's base URL."),
    feature_service: str = typer.Option(
        None, help="Model to look up (default: the first feature service, by name)."
    ),
) -> None:
    """Look up a model's features over the HTTP API, for the entity of the newest row
    in its feature tables."""
    import httpx

    from featurestore.feast_import import skip_typechecks

    skip_typechecks()  # the registry is only read here
    from featurestore.online.examples import example_lookup
    from featurestore.store import open_store

    example = example_lookup(open_store(Project.find()), feature_service)
    feature_service = example.feature_service
    body = {"feature_service": feature_service, "entities": example.entities}
    shown = ", ".join(f"{key}={values[0]}" for key, values in example.entities.items())
    console.print(f"{feature_service} for the newest entity in its feature tables: {shown}")
    console.print(f"POST {url}/get-online-features {json.dumps(body)}")
    answer = httpx.post(f"{url}/get-online-features", json=body, timeout=30)
    if answer.status_code != 200:
        raise FeatureStoreError(f"lookup failed with {answer.status_code}: {answer.text}")
    document = answer.json()
    table = Table("feature", "value", "status", "event time", title=f"{feature_service} online")
    names = document["metadata"]["feature_names"]
    for name, result in zip(names, document["results"], strict=True):
        table.add_row(
            name,
            str(result["values"][0]),
            result["statuses"][0],
            result.get("event_timestamps", [""])[0],
        )
    console.print(table)
    if any("OUTSIDE_MAX_AGE" in result["statuses"] for result in document["results"]):
        console.print(
            "OUTSIDE_MAX_AGE: the value is older than its feature view's TTL; the server "
            "still returns the latest value, marked stale."
        )
