"""A Redis with a password, with TLS, with client certificates: every client of the online
store connects through the URL alone (our engine's materialization, Feast's writes,
the blocking and the async lookups, the API's routes), and a wrong password or an
untrusted certificate is a clear error (503 on the API, one line in the CLI) that never
holds the password.

The servers are Debian's redis-server (``tests/redis_tls.py``), not the session's."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis
from fastapi.testclient import TestClient
from feast import Entity, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Float64

from api import create_app
from api.settings import ApiSettings
from featurestore.errors import OnlineStoreUnavailableError
from featurestore.online import AsyncOnlineLookup, OnlineLookup
from featurestore.project import Project
from featurestore.store import open_store
from tests.redis_tls import PASSWORD, SecureRedis, secure_redis  # noqa: F401

pytestmark = [pytest.mark.redis]

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
WRONG = "Wr0ng-pa55word"
MANY = 20_000
FEATURE_STORE_YAML = """\
project: secured
provider: local
registry:
  registry_type: file
  path: data/registry.db
online_store:
  type: featurestore.feast_plugins.redis_online_store.RedisOnlineStore
offline_store:
  type: duckdb
batch_engine:
  type: featurestore.feast_plugins.batch_engine.RedisBatchEngine
  progress: false
  batch_size: 1000
entity_key_serialization_version: 3
"""
LOOKUP = {"features": ["item_stats:price"], "entities": {"item_id": ["a", "b", "pushed"]}}


@dataclass(frozen=True)
class Secured:
    """One way in: the URL, and a plain client that sees the same database."""

    url: str
    peek: redis.Redis


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, secure_redis: SecureRedis) -> Path:  # noqa: F811
    """A Feast repo with our online store and engine, one view over a Parquet file."""
    repo = tmp_path_factory.mktemp("secured") / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(FEATURE_STORE_YAML)
    parquet = repo / "data" / "items.parquet"
    pq.write_table(
        pa.table(
            {
                "item_id": ["a", "b"],
                "price": [1.5, 2.5],
                "event_timestamp": pa.array([T0, T0], pa.timestamp("us", tz="UTC")),
            }
        ),
        parquet,
    )
    item = Entity(name="item", join_keys=["item_id"], value_type=ValueType.STRING)
    source = FileSource(name="items", path=str(parquet), timestamp_field="event_timestamp")
    view = FeatureView(
        name="item_stats",
        entities=[item],
        ttl=timedelta(days=1),
        schema=[Field(name="price", dtype=Float64)],
        source=PushSource(name="item_push", batch_source=source),
    )
    # Enough rows for many batches: the engine sends one while it reads the last's replies.
    many = repo / "data" / "many.parquet"
    pq.write_table(
        pa.table(
            {
                "item_id": [f"m{n}" for n in range(MANY)],
                "price": [float(n) for n in range(MANY)],
                "event_timestamp": pa.array([T0] * MANY, pa.timestamp("us", tz="UTC")),
            }
        ),
        many,
    )
    bulk = FeatureView(
        name="bulk",
        entities=[item],
        ttl=timedelta(days=1),
        schema=[Field(name="price", dtype=Float64)],
        source=FileSource(name="many", path=str(many), timestamp_field="event_timestamp"),
    )
    open_store(Project.for_repo(repo, redis_url=secure_redis.url())).apply([item, view, bulk])
    return repo


@pytest.fixture(params=["password", "tls", "client-certificate"])
def secured(request: pytest.FixtureRequest, secure_redis: SecureRedis) -> Secured:  # noqa: F811
    """Each way in, on a database of its own (flushed)."""
    if request.param == "password":
        url, peek = secure_redis.url(db=1), secure_redis.client(db=1)
    elif request.param == "tls":
        url, peek = secure_redis.tls_url(db=2), secure_redis.client(db=2)
    else:
        url = secure_redis.mutual_url(db=1)
        peek = redis.Redis.from_url(url)
    peek.flushdb()
    return Secured(url, peek)


def _values(document: dict[str, object]) -> list[object]:
    return document["results"][1]["values"]  # type: ignore[index]


def test_materialize_feast_writes_and_lookups_through_the_url(repo: Path, secured: Secured) -> None:
    settings = Project.for_repo(repo, redis_url=secured.url)
    store = open_store(settings)
    store.materialize(T0 - timedelta(days=1), T0 + timedelta(minutes=1))  # our engine
    assert secured.peek.dbsize() == 2 + MANY
    frame = pd.DataFrame(
        {"item_id": ["pushed"], "price": [9.0], "event_timestamp": [pd.Timestamp(T0)]}
    )
    store.write_to_online_store("item_stats", frame)  # Feast's own write
    assert secured.peek.dbsize() == 3 + MANY
    lookup = OnlineLookup.open(settings)
    try:
        assert _values(lookup.get_online_features(LOOKUP["entities"], LOOKUP["features"])) == [
            1.5,
            2.5,
            9.0,
        ]
    finally:
        lookup.close()

    async def read() -> dict[str, object]:
        async_lookup = AsyncOnlineLookup.open(settings)
        try:
            return await async_lookup.get_online_features(LOOKUP["entities"], LOOKUP["features"])
        finally:
            await async_lookup.close()

    assert _values(asyncio.run(read())) == [1.5, 2.5, 9.0]


def test_the_api_reads_and_pushes_through_the_url(repo: Path, secured: Secured) -> None:
    settings = Project.for_repo(repo, redis_url=secured.url)
    with TestClient(create_app(settings, ApiSettings(registry_refresh_seconds=0))) as client:
        assert client.get("/ready").json() == {"ready": True, "redis": "ok", "registry": "ok"}
        pushed = client.post(
            "/push",
            json={
                "push_source_name": "item_push",
                "df": {"item_id": ["pushed"], "price": [4.0], "event_timestamp": [T0.isoformat()]},
                "to": "online",
            },
        )
        assert pushed.status_code == 200, pushed.text
        answer = client.post("/get-online-features", json=LOOKUP)
        assert answer.status_code == 200
        assert _values(answer.json()) == [None, None, 4.0]


def _refused_urls(server: SecureRedis) -> dict[str, tuple[str, str]]:
    """Ways in that must fail: (url, what the error says)."""
    return {
        "wrong password": (server.url(password=WRONG), "invalid username-password pair"),
        "no password": (f"redis://127.0.0.1:{server.port}/0", "Authentication required"),
        "wrong password over TLS": (
            server.tls_url(password=WRONG),
            "invalid username-password pair",
        ),
        "untrusted certificate": (server.tls_url(ca=False), "CERTIFICATE_VERIFY_FAILED"),
        "no client certificate": (server.mutual_url(client_cert=False), ""),
    }


def _secrets() -> list[str]:
    return [s for p in (PASSWORD, WRONG) for s in (p, quote(p, safe=""))]


def test_refused_logins_are_503_and_never_show_the_password(
    repo: Path,
    secure_redis: SecureRedis,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for case, (url, says) in _refused_urls(secure_redis).items():
        settings = Project.for_repo(repo, redis_url=url)
        api = ApiSettings(registry_refresh_seconds=0, redis_timeout=2.0)
        with TestClient(create_app(settings, api)) as client:
            answer = client.post("/get-online-features", json=LOOKUP)
            assert answer.status_code == 503, case
            assert answer.json()["code"] == "online_store_unavailable"
            ready = client.get("/ready")
        assert ready.status_code == 503, case
        assert says in ready.json()["redis"], (case, ready.json())
        lookup = OnlineLookup.open(settings)
        with pytest.raises(OnlineStoreUnavailableError) as error:
            lookup.get_online_features(LOOKUP["entities"], LOOKUP["features"])
        lookup.close()
        assert says in str(error.value), case
        shown = answer.text + ready.text + str(error.value) + caplog.text
        for secret in _secrets():
            assert secret not in shown, case


@pytest.mark.slow  # a CLI process: Feast's import takes seconds
def test_the_cli_says_a_refused_login_in_one_line(repo: Path, secure_redis: SecureRedis) -> None:  # noqa: F811
    env = {
        **os.environ,
        "FEATURESTORE_REPO_PATH": str(repo),
        "FEATURESTORE_REDIS_URL": secure_redis.tls_url(password=WRONG),
    }
    done = subprocess.run(
        [str(Path(sys.executable).with_name("featurestore")), "materialize",
         (T0 - timedelta(days=1)).isoformat(), T0.isoformat()],
        env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: Redis refused the login (")
    assert "check the user and password of the Redis URL" in lines[0]
    for secret in _secrets():
        assert secret not in done.stderr + done.stdout
