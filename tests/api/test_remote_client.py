"""Real Feast clients against our server: a repo with ``online_store: {type: remote}``.

Our server runs under uvicorn on a free port (in a thread); the client repo shares the
served repo's registry file. Answers through ``store.get_online_features`` and through
``feast get-online-features`` must equal what vanilla Feast reads from Redis itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from feast import FeatureStore

from featurestore.project import Project
from featurestore.store import open_store
from tests.online_repo import OnlineRepo, ServerThread, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis]

NOW = datetime.now(UTC)


def client_repo(target: Path, served: Project, url: str) -> Path:
    """A Feast repo whose online store is our server (``type: remote``)."""
    project = open_store(served).project
    registry = served.repo_path / "data" / "registry.db"
    if not registry.exists():  # the demo project keeps its registry beside the repo
        registry = served.data_dir / "registry.db"
    target.mkdir(parents=True, exist_ok=True)
    (target / "feature_store.yaml").write_text(
        f"project: {project}\n"
        "provider: local\n"
        f"registry: {registry}\n"
        "online_store:\n  type: remote\n"
        f"  path: {url}\n"
        "offline_store:\n  type: duckdb\n"
        "entity_key_serialization_version: 3\n"
    )
    return target


def feast_cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    feast = Path(sys.executable).with_name("feast")
    return subprocess.run(
        [str(feast), "-c", str(repo), *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module")
def served(online_repo: OnlineRepo) -> Iterator[tuple[OnlineRepo, str]]:  # noqa: F811
    online_repo.reset()
    online_repo.write(
        "user_stats",
        {"user_id": [1, 2], "event_timestamp": [NOW, NOW - timedelta(days=3)],
         "f_double": [1.5, 2.5], "f_int64": [10, 20], "f_string": ["a", "b"],
         "f_float": [0.5, None], "f_int32": [3, 4], "f_bool": [True, False],
         "f_bytes": [b"x", b"y"], "f_ts": [NOW, NOW], "f_doubles": [[1.0], [2.0]],
         "f_strings": [["s"], ["t"]]},
    )  # fmt: skip
    online_repo.write(
        "item_stats",
        {"item_id": ["i1"], "price": [9.5], "title": ["T"], "event_timestamp": [NOW]},
    )
    with ServerThread(online_repo.settings) as server:
        yield online_repo, server.url


def _values(answer: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {name: list(values) for name, values in answer.items()}


def test_feast_sdk_through_remote_store(served: tuple[OnlineRepo, str], tmp_path: Path) -> None:
    repo, url = served
    remote = FeatureStore(repo_path=str(client_repo(tmp_path / "client", repo.settings, url)))
    refs = ["user_stats:f_double", "user_stats:f_int64", "user_stats:f_string",
            "user_stats:f_bool", "user_stats:f_doubles", "item_stats:price"]  # fmt: skip
    rows = [{"user_id": 1, "item_id": "i1"}, {"user_id": 2, "item_id": "i2"},
            {"user_id": 99, "item_id": "i1"}]  # fmt: skip
    through_us = remote.get_online_features(features=refs, entity_rows=rows).to_dict()
    vanilla = repo.store.get_online_features(features=refs, entity_rows=rows).to_dict()
    assert _values(through_us) == _values(vanilla)
    assert through_us["f_int64"] == [10, 20, None]

    service = remote.get_feature_service("ranking_model")
    through_us = remote.get_online_features(features=service, entity_rows=rows[:1]).to_dict()
    vanilla = repo.store.get_online_features(
        features=repo.store.get_feature_service("ranking_model"), entity_rows=rows[:1]
    ).to_dict()
    assert _values(through_us) == _values(vanilla)


def test_feast_cli_through_remote_store(served: tuple[OnlineRepo, str], tmp_path: Path) -> None:
    repo, url = served
    client = client_repo(tmp_path / "client", repo.settings, url)
    # The CLI sends every entity value as a string; an int64 key takes "1" as Feast does.
    done = feast_cli(client, "get-online-features", "-e", "user_id=1", "-e", "user_id=7",
                     "-f", "user_stats:f_int64", "-f", "user_stats:f_string")  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout[done.stdout.index("{") :])
    assert answer["f_int64"] == [10, None]
    assert answer["f_string"] == ["a", None]


@pytest.mark.slow
def test_demo_project_through_remote_store(demo_project: Project, tmp_path: Path) -> None:
    with ServerThread(demo_project) as server:
        client = client_repo(tmp_path / "client", demo_project, server.url)
        remote = FeatureStore(repo_path=str(client))
        rows = [{"origin": "JFK", "carrier": "B6", "tailnum": "N665JB"},
                {"origin": "EWR", "carrier": "ZZ", "tailnum": "NOPE"}]  # fmt: skip
        vanilla_store = open_store(demo_project)
        for features in (
            ["weather_hourly:temp", "carrier_daily:avg_dep_delay_7d", "plane_daily:seats"],
            remote.get_feature_service("departure_delay_model"),
        ):
            vanilla_features = (
                features
                if isinstance(features, list)
                else vanilla_store.get_feature_service("departure_delay_model")
            )
            through_us = remote.get_online_features(features=features, entity_rows=rows).to_dict()
            vanilla = vanilla_store.get_online_features(
                features=vanilla_features, entity_rows=rows
            ).to_dict()
            assert _values(through_us) == _values(vanilla)
        done = feast_cli(client, "get-online-features", "-e", "origin=JFK",
                         "-f", "weather_hourly:temp", "-f", "weather_hourly:visib")  # fmt: skip
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout[done.stdout.index("{") :])
        vanilla = vanilla_store.get_online_features(
            features=["weather_hourly:temp", "weather_hourly:visib"],
            entity_rows=[{"origin": "JFK"}],
        ).to_dict()
        assert answer == json.loads(json.dumps(vanilla))


def test_feast_sdk_writes_through_remote_store(
    served: tuple[OnlineRepo, str], tmp_path: Path
) -> None:
    repo, url = served
    remote = FeatureStore(repo_path=str(client_repo(tmp_path / "client", repo.settings, url)))
    frame = pd.DataFrame(
        {"item_id": ["r1"], "price": [7.25], "title": ["remote"], "event_timestamp": [NOW]}
    )
    remote.write_to_online_store("item_stats", frame)  # POST /write-to-online-store
    vanilla = repo.store.get_online_features(
        features=["item_stats:price", "item_stats:title"], entity_rows=[{"item_id": "r1"}]
    ).to_dict()
    assert vanilla == {"item_id": ["r1"], "price": [7.25], "title": ["remote"]}
