"""``featurestore demo lookup``: one real online lookup over HTTP, printed."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from featurestore.errors import FeatureStoreError
from featurestore.settings import Settings

app = typer.Typer(help="Steps of `make demo`.", no_args_is_help=True)
console = Console()

_LAST_FLIGHT = """
SELECT carrier, flight, tailnum, origin, dest, time_hour + to_minutes(minute) AS scheduled
FROM flights
WHERE tailnum IS NOT NULL AND dep_time IS NOT NULL
ORDER BY scheduled DESC, carrier, flight
LIMIT 1
"""


@app.command()
def lookup(
    url: str = typer.Option("http://127.0.0.1:6566", help="The API's base URL."),
    feature_service: str = typer.Option("departure_delay_model", help="Model to look up."),
) -> None:
    """Look up a model's features for the last flight of 2013 through the HTTP API."""
    import httpx  # the lookup is HTTP and DuckDB only: no Feast in this process

    from featurestore import tables

    settings = Settings.from_env()
    con = tables.connect(settings.data_dir)
    try:
        row = con.execute(_LAST_FLIGHT).fetchone()
    finally:
        con.close()
    if row is None:
        raise FeatureStoreError("no flights table; run: featurestore ingest run")
    carrier, flight, tailnum, origin, dest, scheduled = row
    body = {
        "feature_service": feature_service,
        "entities": {"origin": [origin], "carrier": [carrier], "tailnum": [tailnum]},
    }
    console.print(
        f"flight {carrier}{flight} {origin}->{dest}, aircraft {tailnum}, scheduled {scheduled}"
    )
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
            "OUTSIDE_MAX_AGE: the value is older than its feature view's TTL (the demo data is "
            "from 2013); the server still returns the latest value, marked stale."
        )
