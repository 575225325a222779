"""A small Feast repo for online-serving tests: an int64 entity, a string entity, a
composite-key view, every scalar type, TTLs, and nothing materialized from files.

Tests write rows with vanilla Feast (``store.write_to_online_store``), so the Redis bytes
are exactly what Feast writes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis
import uvicorn
from feast import (
    Entity,
    FeatureService,
    FeatureStore,
    FeatureView,
    Field,
    FileSource,
    PushSource,
    ValueType,
)
from feast.types import Array, Bool, Bytes, Float32, Float64, Int32, Int64, String, UnixTimestamp

from api import create_app
from api.protocol import InlineHttpProtocol
from api.settings import ApiSettings
from featurestore.project import Project
from featurestore.redis_server import LocalRedis, free_port
from featurestore.store import open_store

PROJECT = "online_test"

FEATURE_STORE_YAML = f"""\
project: {PROJECT}
provider: local
registry:
  registry_type: file
  path: data/registry.db
  cache_ttl_seconds: 60
online_store:
  type: featurestore.feast_plugins.redis_online_store.RedisOnlineStore
offline_store:
  type: duckdb
entity_key_serialization_version: 3
"""

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
item = Entity(name="item", join_keys=["item_id"], value_type=ValueType.STRING)


def _source(name: str, repo: Path) -> FileSource:
    return FileSource(
        name=f"{name}_source",
        path=str(repo / "data" / f"{name}.parquet"),
        timestamp_field="event_timestamp",
    )


def definitions(repo: Path) -> list[object]:
    user_stats = FeatureView(
        name="user_stats",
        entities=[user],
        ttl=timedelta(days=1),
        schema=[
            Field(name="f_double", dtype=Float64),
            Field(name="f_float", dtype=Float32),
            Field(name="f_int64", dtype=Int64),
            Field(name="f_int32", dtype=Int32),
            Field(name="f_string", dtype=String),
            Field(name="f_bool", dtype=Bool),
            Field(name="f_bytes", dtype=Bytes),
            Field(name="f_ts", dtype=UnixTimestamp),
            Field(name="f_doubles", dtype=Array(Float64)),
            Field(name="f_strings", dtype=Array(String)),
        ],
        source=_source("user_stats", repo),
        online=True,
    )
    item_stats = FeatureView(
        name="item_stats",
        entities=[item],
        ttl=timedelta(0),
        schema=[Field(name="price", dtype=Float64), Field(name="title", dtype=String)],
        source=PushSource(name="item_push", batch_source=_source("item_stats", repo)),
        online=True,
    )
    user_item = FeatureView(
        name="user_item",
        entities=[user, item],
        ttl=timedelta(days=7),
        schema=[Field(name="score", dtype=Float64), Field(name="clicks", dtype=Int64)],
        source=_source("user_item", repo),
        online=True,
    )
    model = FeatureService(
        name="ranking_model",
        features=[item_stats[["title", "price"]], user_stats[["f_int64", "f_double"]], user_item],
    )
    return [user, item, user_stats, item_stats, user_item, model]


def make_repo(target: Path, redis_url: str) -> tuple[Project, FeatureStore]:
    """Write the repo under ``target``, apply it, and return its settings and store."""
    repo = target / "online_repo"
    (repo / "data").mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(FEATURE_STORE_YAML)
    settings = Project.for_repo(repo, redis_url=redis_url)
    store = open_store(settings)
    store.apply(definitions(repo))  # type: ignore[arg-type]
    return settings, store


@dataclass
class OnlineRepo:
    """The small repo, applied, with its own empty Redis database."""

    settings: Project
    store: FeatureStore
    redis: redis.Redis

    def reset(self) -> None:
        self.redis.flushdb()

    def write(self, view: str, rows: dict[str, list[Any]]) -> None:
        """Write rows with vanilla Feast (``write_to_online_store``)."""
        frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in rows.items()})
        frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
        self.store.write_to_online_store(view, frame)


@pytest.fixture(scope="module")
def online_repo(tmp_path_factory: pytest.TempPathFactory, redis_server: LocalRedis) -> OnlineRepo:
    """The small repo on Redis db 2 (flushed), for one test module."""
    url = f"redis://127.0.0.1:{redis_server.port}/2"
    client = redis.Redis(port=redis_server.port, db=2)
    client.flushdb()
    settings, store = make_repo(tmp_path_factory.mktemp("online"), url)
    return OnlineRepo(settings, store, client)


class ServerThread:
    """Our app under uvicorn with our HTTP protocol, in a thread, on a free port."""

    def __init__(
        self, settings: Project, api: ApiSettings | None = None, keep_alive: float = 5
    ) -> None:
        self.port = free_port()
        app = create_app(settings, api or ApiSettings(registry_refresh_seconds=0))
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            loop="uvloop",
            http=InlineHttpProtocol,  # what `featurestore serve` runs
            access_log=False,
            timeout_keep_alive=keep_alive,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
