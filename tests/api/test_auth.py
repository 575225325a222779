"""API keys through a real app on a real Redis: every route but ``/health`` and ``/ready``
needs a key (the routes are read from the app, so a new one is covered without a new
test), read and write scopes per route, hashed keys, the inline route of our HTTP
protocol, CORS with keys, and no key text in any log."""

from __future__ import annotations

import hashlib
import http.client
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from api import create_app
from api.settings import ApiSettings
from tests.online_repo import OnlineRepo, ServerThread, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis]

BOTH = "both-key-7f3a"
READER = "reader-key-91c2"
WRITER = "writer-key-5d0e"
HASHED = "hashed-key-c4b8"
HASHED_HEX = hashlib.sha256(HASHED.encode()).hexdigest()
KEYS = (BOTH, f"read:{READER}", f"write:{WRITER}", f"sha256:{HASHED_HEX}")
SECRETS = (BOTH, READER, WRITER, HASHED, HASHED_HEX)

OPEN = {"/health", "/ready"}
# Every POST route is one or the other on purpose: a new one must be added to a set here,
# so that no write route is left behind the read scope by mistake.
WRITES = {"/push", "/write-to-online-store"}
POST_READS = {"/get-online-features", "/feature-services/{name}/online"}
LOOKUP = {"features": ["item_stats:price"], "entities": {"item_id": ["i1"]}}


@pytest.fixture(scope="module")
def repo(online_repo: OnlineRepo) -> OnlineRepo:  # noqa: F811
    online_repo.reset()
    online_repo.write(
        "item_stats",
        {"item_id": ["i1"], "price": [9.5], "title": ["a"], "event_timestamp": [datetime.now(UTC)]},
    )
    return online_repo


@pytest.fixture(scope="module")
def client(repo: OnlineRepo) -> Iterator[TestClient]:
    api = ApiSettings(registry_refresh_seconds=0, api_keys=KEYS)
    with TestClient(create_app(repo.settings, api)) as test_client:
        yield test_client


def _routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, route path, a concrete path) of every route of the app, docs included."""
    found = []
    for route in iter_route_contexts(app.routes):
        assert route.path is not None
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append((method, route.path, re.sub(r"\{[^}]+\}", "x", route.path)))
    return found


def _call(client: TestClient, method: str, path: str, key: str | None) -> tuple[int, str]:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    kwargs = {"json": {}} if method == "POST" else {}
    answer = client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
    code = ""
    if answer.status_code >= 400 and "json" in answer.headers.get("content-type", ""):
        code = answer.json()["code"]
    return answer.status_code, code


def test_every_route_but_health_and_ready_needs_a_key(client: TestClient) -> None:
    routes = _routes(client.app)  # type: ignore[arg-type]
    paths = {path for _, path, _ in routes}
    assert {"/metrics", "/docs", "/openapi.json", "/catalog", *WRITES, *POST_READS} <= paths
    assert {path for method, path, _ in routes if method == "POST"} == WRITES | POST_READS
    for method, path, concrete in routes:
        status, code = _call(client, method, concrete, None)
        if path in OPEN:
            assert status == 200, (method, path)
        else:
            assert (status, code) == (401, "unauthorized"), (method, path)
            assert _call(client, method, concrete, "not-a-key") == (401, "unauthorized")


def test_a_read_key_cannot_write_and_a_write_key_cannot_read(client: TestClient) -> None:
    for method, path, concrete in _routes(client.app):  # type: ignore[arg-type]
        if path in OPEN:
            continue
        by_both, _ = _call(client, method, concrete, BOTH)
        by_reader = _call(client, method, concrete, READER)
        by_writer = _call(client, method, concrete, WRITER)
        assert by_both not in (401, 403), (method, path)
        if path in WRITES:
            assert by_reader == (403, "forbidden"), path
            assert by_writer[0] == 422, path  # past the auth: the empty body is refused
        else:
            assert by_reader[0] not in (401, 403), (method, path)
            assert by_writer == (403, "forbidden"), (method, path)
    answer = client.post("/push", json={}, headers={"Authorization": f"Bearer {READER}"})
    assert answer.json() == {
        "detail": "this API key lacks the write scope this route needs",
        "code": "forbidden",
    }
    assert "www-authenticate" not in answer.headers


def test_a_write_key_writes(client: TestClient) -> None:
    body = {
        "feature_view_name": "item_stats",
        "df": {"item_id": ["w1"], "price": [1.0], "title": ["w"],
               "event_timestamp": [datetime.now(UTC).isoformat()]},
    }  # fmt: skip
    written = client.post(
        "/write-to-online-store", json=body, headers={"Authorization": f"Bearer {WRITER}"}
    )
    assert written.status_code == 200, written.text


def test_a_hashed_key_is_given_by_its_digest_and_used_by_its_text(client: TestClient) -> None:
    ok = client.post(
        "/get-online-features", json=LOOKUP, headers={"Authorization": f"Bearer {HASHED}"}
    )
    assert ok.status_code == 200
    assert ok.json()["results"][1]["values"] == [9.5]
    by_digest = client.post(
        "/get-online-features", json=LOOKUP, headers={"Authorization": f"Bearer {HASHED_HEX}"}
    )
    assert by_digest.status_code == 401


def _inline(port: int, key: str | None, path: str = "/get-online-features") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    body = b'{"features": ["item_stats:price"], "entities": {"item_id": ["i1"]}}'
    conn.request("POST", path, body=body, headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status


def test_the_inline_lookup_route_takes_read_keys_only(repo: OnlineRepo) -> None:
    api = ApiSettings(registry_refresh_seconds=0, api_keys=KEYS)
    with ServerThread(repo.settings, api) as server:
        assert [_inline(server.port, key) for key in (BOTH, READER, HASHED)] == [200] * 3
        assert _inline(server.port, WRITER) == 403  # not inline: the app's 403
        assert _inline(server.port, None) == 401
        assert _inline(server.port, READER, "/push") == 403


def test_cors_preflights_pass_without_a_key_and_401s_carry_cors(repo: OnlineRepo) -> None:
    api = ApiSettings(registry_refresh_seconds=0, api_keys=KEYS, cors_origins=("https://ui.test",))
    origin = {"Origin": "https://ui.test"}
    with TestClient(create_app(repo.settings, api)) as client:
        preflight = client.options(
            "/get-online-features",
            headers={**origin, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"},
        )  # fmt: skip
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://ui.test"
        refused = client.post("/get-online-features", json=LOOKUP, headers=origin)
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == "https://ui.test"
        ok = client.post(
            "/get-online-features",
            json=LOOKUP,
            headers={**origin, "Authorization": f"Bearer {BOTH}"},
        )
        assert ok.status_code == 200


def test_keys_never_reach_a_log(
    repo: OnlineRepo,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("FEATURESTORE_API_KEYS", ",".join(KEYS))
    monkeypatch.setenv("FEATURESTORE_REGISTRY_REFRESH", "0")
    api = ApiSettings.from_env()
    logging.getLogger("tests").info("settings: %s %r", api, api)
    with ServerThread(repo.settings, api) as server:
        for key in (*SECRETS, f"{BOTH}x", None):
            _inline(server.port, key)
            _inline(server.port, key, "/push")
            _inline(server.port, key, "/no-such-route")
    with TestClient(create_app(repo.settings, api)) as client:
        for key in (*SECRETS, f"{READER}x"):
            _call(client, "GET", "/metrics", key)
            _call(client, "POST", "/push", key)
        client.get("/openapi.json", headers={"Authorization": f"Bearer {BOTH}"})
    captured = capfd.readouterr()
    logged = caplog.text + captured.out + captured.err
    assert "settings: ApiSettings(api_keys=<4 keys>" in logged  # the log was captured
    for secret in SECRETS:
        assert secret not in logged
