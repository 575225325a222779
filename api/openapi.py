"""The OpenAPI description: what the server answers, with examples from the registry.

FastAPI documents its own validation error (``HTTPValidationError``) for every route
with parameters; this server answers every error with ``ErrorResponse``
(``{detail, code}``, ``api.errors``), so ``describe_errors`` rewrites the description
to say so: 422 is ``ErrorResponse`` everywhere, every route with a path parameter
documents 404 (an unknown name, or a value no route matches), and when API keys are
configured every route but ``/health`` and ``/ready`` documents the bearer scheme, its
401 and its 403 (a key without the route's scope, ``api.keys``). ``tests/api/test_fuzz.py``
checks with schemathesis that the server does what this description says.

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

from api.middleware import OPEN_PATHS
from api.schemas import ErrorResponse
from featurestore.errors import FeatureStoreError
from featurestore.online.examples import ExampleLookup, example_lookup

log = logging.getLogger(__name__)


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe our errors, and add the registry's examples once
    they are built."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        example: ExampleLookup | None = getattr(app.state, "example_lookup", None)
        if app.openapi_schema is not None and getattr(app.state, "examples_in_schema", False):
            return app.openapi_schema
        app.openapi_schema = None
        schema = plain()
        describe_errors(schema, api_keys=bool(app.state.api_settings.api_keys))
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


_ERROR = {"$ref": "#/components/schemas/ErrorResponse"}
_FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def describe_errors(schema: dict[str, Any], api_keys: bool) -> None:
    """Document the errors the server answers (see the module's docstring), in place."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["ErrorResponse"] = ErrorResponse.model_json_schema()
    for name in _FASTAPI_ERRORS:
        schemas.pop(name, None)
    if api_keys:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = _error("Invalid request (names the problem)")
            if "{" in path:
                responses.setdefault("404", _error("Unknown name, or a path no route matches"))
            if api_keys and path not in OPEN_PATHS:
                operation["security"] = [{"bearer": []}]
                responses["401"] = _error("Missing or invalid API key")
                responses["403"] = _error("The API key lacks the scope (read, write) it needs")


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
