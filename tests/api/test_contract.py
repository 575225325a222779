"""The contract of issue 13, item 11: each mismatch schemathesis found between the OpenAPI
description and the server, pinned (``test_fuzz.py`` runs schemathesis itself)."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.settings import ApiSettings
from tests.online_repo import OnlineRepo, ServerThread, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis]

NOW = datetime.now(UTC)
BODY_ROUTES = ["/get-online-features", "/feature-services/ranking_model/online", "/push",
               "/write-to-online-store"]  # fmt: skip
USER_ROW: dict[str, list[Any]] = {
    "user_id": [1], "event_timestamp": [NOW.isoformat()], "f_double": [1.5], "f_float": [0.5],
    "f_int64": [7], "f_int32": [3], "f_string": ["s"], "f_bool": [True], "f_bytes": [None],
    "f_ts": [1_700_000_000], "f_doubles": [[1.0, 2.0]], "f_strings": [["a"]],
}  # fmt: skip


@pytest.fixture(scope="module")
def repo(online_repo: OnlineRepo) -> OnlineRepo:  # noqa: F811
    online_repo.reset()
    return online_repo


@pytest.fixture(scope="module")
def client(repo: OnlineRepo) -> Iterator[TestClient]:
    app = create_app(repo.settings, ApiSettings(registry_refresh_seconds=0))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _error(answer: Any, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"detail", "code"} and body["code"] == code, body
    detail: str = body["detail"]
    return detail


def test_405_names_the_allowed_methods(client: TestClient) -> None:
    """Our error handler dropped the ``Allow`` header Starlette puts on a 405."""
    for method, path, allowed in [("POST", "/health", "GET"), ("DELETE", "/catalog", "GET"),
                                  ("GET", "/get-online-features", "POST"),
                                  ("TRACE", "/push", "POST")]:  # fmt: skip
        answer = client.request(method, path)
        _error(answer, 405, "method_not_allowed")
        assert allowed in answer.headers["allow"].split(", "), (path, answer.headers)


def test_openapi_documents_our_error_shape_everywhere(client: TestClient) -> None:
    """FastAPI documented its ``HTTPValidationError`` for the catalog's 422s, which answer
    ``{detail, code}``; and routes with a path parameter did not document their 404."""
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["ErrorResponse"]["additionalProperties"] is False
    assert schemas["ErrorResponse"]["required"] == ["detail", "code"]
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            for status, response in responses.items():
                if status.startswith(("4", "5")) and path != "/ready":
                    assert response["content"]["application/json"]["schema"] == error, path
            assert ("{" not in path) or "404" in responses, path
            assert "security" not in operation and "401" not in responses
    assert "422" in spec["paths"]["/catalog/features"]["get"]["responses"]
    assert "text/plain" in spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


def test_openapi_documents_the_api_keys_when_configured(repo: OnlineRepo) -> None:
    api = ApiSettings(registry_refresh_seconds=0, api_keys=("k",))
    with TestClient(create_app(repo.settings, api)) as keyed:
        spec = keyed.get("/openapi.json", headers={"Authorization": "Bearer k"}).json()
    assert spec["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            guarded = path not in ("/health", "/ready")
            assert ("401" in operation["responses"]) is guarded, path
            assert (operation.get("security") == [{"bearer": []}]) is guarded, path


@pytest.mark.parametrize(
    "path", ["/catalog/feature-views/0", "/catalog/feature-views/nope", "/catalog/features/0",
             "/catalog/features/user_stats:nope"],
)  # fmt: skip
def test_unknown_catalog_names_are_404(client: TestClient, path: str) -> None:
    """They were 422 ``unknown_feature`` (the catalog raised a lookup's error for them)."""
    detail = _error(client.get(path), 404, "not_found")
    assert detail.endswith(f"{path.rsplit('/', 1)[1]!r}")


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize(
    "body", [b"{nope", b"", b'{"entities": {"user_id": [NaN]}}', b'{"df": {"a": [Infinity]}}',
             b'{"df": {"a": [-Infinity]}}', b'{"df": {"a": [1e400]}}'],
)  # fmt: skip
def test_bodies_that_are_not_json_are_422_on_every_route(
    client: TestClient, route: str, body: bytes
) -> None:
    """JSON has no NaN or Infinity: every route refuses them, as any other non-JSON body.
    (Already so on main before item 11: the write routes read their body with orjson
    since item 5; pinned here for all four routes.)"""
    detail = _error(client.post(route, content=body), 422, "invalid_request")
    assert detail.startswith("the body is not valid JSON")


@pytest.mark.parametrize("features", [{}, 0, False, "user_stats:f_int64", {"a": 1}, [1]])
def test_features_must_be_a_list_of_strings(client: TestClient, features: object) -> None:
    """``body.get("features") or None`` let ``{}``, ``0`` and ``false`` through (200)."""
    body = {"features": features, "feature_service": "ranking_model",
            "entities": {"user_id": [1], "item_id": ["i1"]}}  # fmt: skip
    detail = _error(client.post("/get-online-features", json=body), 422, "invalid_request")
    assert detail.startswith("features:")


@pytest.mark.parametrize("features", [None, []])
def test_no_features_means_the_feature_service(client: TestClient, features: object) -> None:
    body = {"features": features, "feature_service": "ranking_model",
            "entities": {"user_id": [1], "item_id": ["i1"]}}  # fmt: skip
    assert client.post("/get-online-features", json=body).status_code == 200


@pytest.mark.parametrize("value", [b"18446744073709551616", b"-9223372036854775809", b"1.5"])
def test_entity_ints_outside_int64_are_422_naming_the_entity(
    client: TestClient, value: bytes
) -> None:
    """orjson reads integers past 64 bits as floats; a write took them as float keys."""
    lookup = b'{"features": ["user_stats:f_int64"], "entities": {"user_id": [%s]}}' % value
    detail = _error(client.post("/get-online-features", content=lookup), 422, "wrong_entity_type")
    assert detail.startswith("entity 'user_id' expects int64 values")
    row = {**USER_ROW, "user_id": ["PLACEHOLDER"]}
    body = b'{"feature_view_name": "user_stats", "df": %s}' % _json(row).replace(
        b'"PLACEHOLDER"', value
    )
    detail = _error(client.post("/write-to-online-store", content=body), 422, "bad_rows")
    assert "breaks 'user_id is BIGINT'" in detail


def _json(value: object) -> bytes:
    import orjson

    return orjson.dumps(value)


_LIBRARY_WORDS = ("Index", "index", "numpy", "NaT", "schema", "Time data", "literal", "Value")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"f_double": None, "f_float": None},
         "the rows lack column(s) f_double (feature), f_float (feature) of feature view"),
        ({"event_timestamp": None}, "lack column(s) event_timestamp (event timestamp)"),
        ({"f_double": ["x"]}, "row 0: f_double = 'x' breaks 'f_double is DOUBLE'"),
        ({"f_double": [True]}, "row 0: f_double = True breaks 'f_double is DOUBLE'"),
        ({"f_int64": [1.5]}, "row 0: f_int64 = 1.5 breaks 'f_int64 is BIGINT'"),
        ({"f_int32": [2**40]}, "breaks 'f_int32 is INTEGER'"),
        ({"f_string": [{"a": 1}]}, "row 0: f_string = {'a': 1} breaks 'f_string is VARCHAR'"),
        ({"f_bool": ["true"]}, "breaks 'f_bool is BOOLEAN'"),
        ({"f_bytes": ["abc"]}, "breaks 'f_bytes is BLOB'"),
        ({"f_ts": [True]}, "breaks 'f_ts is TIMESTAMP WITH TIME ZONE'"),
        ({"f_doubles": [1.0]}, "row 0: f_doubles = 1.0 breaks 'f_doubles is DOUBLE[]'"),
        ({"f_strings": [[1]]}, "breaks 'f_strings is VARCHAR[]'"),
        ({"event_timestamp": ["yesterday"]},
         "row 0: event_timestamp = 'yesterday' breaks "
         "'event_timestamp is TIMESTAMP WITH TIME ZONE'"),
        ({"event_timestamp": [1_700_000_000]}, "breaks 'event_timestamp is TIMESTAMP"),
        ({"event_timestamp": [None]},
         "row 0: event_timestamp = None breaks 'event_timestamp not null'"),
        ({"user_id": [None]}, "row 0: user_id = None breaks 'user_id not null'"),
    ],
)  # fmt: skip
def test_bad_rows_are_named_in_our_words(
    client: TestClient, change: dict[str, Any], named: str
) -> None:
    """Feast's and pandas' texts reached clients ("None of [Index([...])] are in the
    [columns]"), and a string in a Float64 column was a 500."""
    row = {name: values for name, values in {**USER_ROW, **change}.items() if values is not None}
    answer = client.post(
        "/write-to-online-store", json={"feature_view_name": "user_stats", "df": row}
    )
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert named in detail
    assert not any(word in detail for word in _LIBRARY_WORDS), detail


def test_push_names_the_missing_columns(client: TestClient) -> None:
    row = {"item_id": ["x"], "event_timestamp": [NOW.isoformat()]}
    answer = client.post("/push", json={"push_source_name": "item_push", "df": row})
    detail = _error(answer, 422, "invalid_request")
    assert detail == (
        "the rows lack column(s) price (feature), title (feature) of push source 'item_push'"
    )
    source = {"push_source_name": "user_stats_source", "df": row}  # a batch source
    _error(client.post("/push", json=source), 404, "not_found")


def test_writes_take_json_numbers_as_the_column_type(client: TestClient) -> None:
    """An integer in a Float64 column is a float, a decimal string in an Int64 column
    an integer: what was written reads back in the feature's type."""
    later = (NOW + timedelta(seconds=1)).isoformat()
    row = {**USER_ROW, "user_id": ["42"], "event_timestamp": [later], "f_double": [2],
           "f_int64": ["8"], "f_doubles": [[1, 2.5]]}  # fmt: skip
    written = client.post(
        "/write-to-online-store", json={"feature_view_name": "user_stats", "df": row}
    )
    assert written.json()["online_written"] == 1, written.text
    refs = ["user_stats:f_double", "user_stats:f_int64", "user_stats:f_doubles"]
    answer = client.post(
        "/get-online-features", json={"features": refs, "entities": {"user_id": [42]}}
    )
    values = [result["values"][0] for result in answer.json()["results"][1:]]
    assert values == [2.0, 8, [1.0, 2.5]]
    assert isinstance(values[0], float)


@pytest.mark.parametrize("field", ["allow_registry_cache", "transform_on_write"])
def test_write_bodies_are_checked_strictly(client: TestClient, field: str) -> None:
    """Pydantic's lax mode took "true" for a boolean: invalid by the schema, yet 200."""
    body = {"feature_view_name": "user_stats", "df": USER_ROW, field: "true"}
    detail = _error(client.post("/write-to-online-store", json=body), 422, "invalid_request")
    assert detail.startswith(f"{field}:")


def test_a_request_the_http_parser_refuses_is_json(repo: OnlineRepo) -> None:
    """A 70 KB URL: httptools refuses the request line and uvicorn answered plain text."""
    with ServerThread(repo.settings) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", "/catalog/features?q=" + "a" * 70_000)
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
    assert answer.status == 400
    assert answer.getheader("content-type") == "application/json"
    assert body == b'{"detail":"invalid HTTP request","code":"invalid_http_request"}'
