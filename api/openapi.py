"""The OpenAPI description with examples from the project's own registry.

At start-up a worker thread builds one example lookup (``featurestore.online.examples``:
a feature service of the registry and an entity from its feature tables); the first
request for ``/openapi.json`` after that puts it into the lookup routes' request
examples. The event loop never waits for it: before it is ready, the description has
no examples.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI

from featurestore.errors import FeatureStoreError
from featurestore.online.examples import ExampleLookup, example_lookup

log = logging.getLogger(__name__)


def install_examples(app: FastAPI) -> None:
    """Make ``app.openapi()`` add the registry's examples once they are built."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        example: ExampleLookup | None = getattr(app.state, "example_lookup", None)
        if app.openapi_schema is not None and getattr(app.state, "examples_in_schema", False):
            return app.openapi_schema
        app.openapi_schema = None
        schema = plain()
        if example is not None:
            _add_examples(schema, example)
            app.state.examples_in_schema = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def build_examples(app: FastAPI) -> None:
    """Build the example lookup in a thread (it reads feature tables)."""
    store = app.state.lookup.registry.store
    try:
        app.state.example_lookup = await asyncio.to_thread(example_lookup, store)
    except FeatureStoreError as exc:
        log.info("no OpenAPI examples: %s", exc)
    except Exception:  # the description works without examples; the cause is logged
        log.exception("building the OpenAPI examples failed")


def _add_examples(schema: dict[str, Any], example: ExampleLookup) -> None:
    paths = schema.get("paths", {})
    feast_body = {"feature_service": example.feature_service, "entities": example.entities}
    by_features = {"features": example.features[:3], "entities": example.entities}
    records = {"entities": [{key: values[0] for key, values in example.entities.items()}]}
    _set(paths, "/get-online-features", [feast_body, {**by_features, "full_feature_names": True}])
    _set(paths, "/feature-services/{name}/online", [records, {"entities": example.entities}])


def _set(paths: dict[str, Any], route: str, examples: list[dict[str, Any]]) -> None:
    try:
        content = paths[route]["post"]["requestBody"]["content"]["application/json"]
    except KeyError:
        return
    content["schema"] = {**content["schema"], "examples": examples}
