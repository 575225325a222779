"""Safe applies on a real project: breaking changes refused, a third model from the
catalog, and concurrent writers that neither lose nor corrupt anything."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api import create_app
from featurestore.apply import apply
from featurestore.catalog import load_catalog
from featurestore.errors import BreakingChangeError
from featurestore.online import OnlineLookup
from featurestore.project import Project
from featurestore.store import open_store
from featurestore.training import training_set
from ingestion import run_jobs
from tests.conftest import copy_project

pytestmark = [pytest.mark.slow, pytest.mark.redis]
FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))
FEAST = str(Path(sys.executable).with_name("feast"))


def _project(root: Path, redis_url: str) -> Project:
    settings = Project.for_repo(copy_project(root), redis_url=redis_url)
    run_jobs(settings)
    apply(settings)
    return settings


def _cli(settings: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FEATURESTORE_REPO_PATH": str(settings.repo_path),
        "FEATURESTORE_REDIS_URL": settings.redis_url,
        "COLUMNS": "250",
    }
    return subprocess.run([FEATURESTORE, *args], env=env, capture_output=True, text=True)


def _services(settings: Project) -> set[str]:
    store = open_store(settings)
    return {s.name for s in store.registry.list_feature_services(store.project, allow_cache=False)}


def _digest(paths: list[Path]) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(paths))).hexdigest()


def test_third_model_from_the_catalog_without_touching_jobs(
    tmp_path: Path, clean_redis_url: str
) -> None:
    settings = _project(tmp_path, clean_redis_url)
    tables = sorted(p for p in (settings.data_dir / "features").rglob("*.parquet") if p.is_file())
    before = _digest([*settings.jobs_dir.glob("*.sql"), *tables])
    catalog = load_catalog(open_store(settings))
    # A fleet-reliability model: aircraft history plus airline cancellations, all existing.
    refs = [h.feature.ref for h in catalog.search(tag="domain:fleet") if "30d" in h.feature.name]
    cancelled = [h.feature.ref for h in catalog.search("cancelled", entity="carrier")]
    assert cancelled == [
        "departure_status:cancelled_1h", "carrier_daily:cancel_rate_1d",
        "carrier_daily:cancel_rate_7d",
    ]  # fmt: skip
    # The daily airline rates; the pushed hourly count is keyed by origin too.
    refs += [ref for ref in cancelled if ref.startswith("carrier_daily:")]
    assert refs == [
        "plane_daily:avg_dep_delay_30d", "plane_daily:cancel_rate_30d", "plane_daily:flights_30d",
        "carrier_daily:cancel_rate_1d", "carrier_daily:cancel_rate_7d",
    ]  # fmt: skip

    made = _cli(
        settings, "catalog", "new-model", "fleet_reliability_model", *refs,
        "--description", "Aircraft reliability", "--owner", "fleet@example.com",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    planned = _cli(settings, "plan")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "fleet_reliability_model" in planned.stdout and "BREAKING" not in planned.stdout
    applied = _cli(settings, "apply")
    assert applied.returncode == 0, applied.stderr

    assert _services(settings) == {
        "departure_delay_model", "cancellation_model", "fleet_reliability_model",
    }  # fmt: skip
    catalog = load_catalog(open_store(settings))
    assert catalog.feature("carrier_daily:cancel_rate_7d").used_by == [
        "cancellation_model", "fleet_reliability_model",
    ]  # fmt: skip
    assert _digest([*settings.jobs_dir.glob("*.sql"), *tables]) == before

    store = open_store(settings)
    when = pd.to_datetime(["2013-02-01T12:00:00Z"]).astype("datetime64[us, UTC]")
    entity_df = pd.DataFrame({"tailnum": ["N14228"], "carrier": ["UA"], "event_timestamp": when})
    train = training_set(store, "fleet_reliability_model", entity_df)
    assert train.loc[0, "cancel_rate_7d"] >= 0 and train.loc[0, "flights_30d"] > 0
    store.materialize(datetime(2013, 1, 1, tzinfo=UTC), datetime(2014, 1, 2, tzinfo=UTC))
    answer = OnlineLookup.open(settings).get_online_features(
        entities={"tailnum": ["N14228"], "carrier": ["UA"]},
        feature_service="fleet_reliability_model",
    )
    assert len(answer["metadata"]["feature_names"]) == 2 + len(refs)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def _view_argument(settings: Project, view: str, argument: str) -> None:
    """Add ``argument`` to the ``job_feature_view`` call defining ``view``."""
    call = f'{view} = job_feature_view(\n    "{view}",'
    _edit(settings.repo_path / "feature_views.py", call, f"{call}\n    {argument},")


def _retype_in_job(settings: Project, column: str, new_type: str) -> None:
    """Change a column's type in the job header, as a data scientist editing the SQL
    job would (in the project copy's own jobs folder)."""
    header = settings.jobs_dir / "carrier_daily.sql"
    _edit(header, f"-- column: {column} BIGINT", f"-- column: {column} {new_type}")


def test_breaking_changes_are_refused_naming_the_models(
    tmp_path: Path, clean_redis_url: str
) -> None:
    settings = _project(tmp_path, clean_redis_url)
    store = open_store(settings)
    version = store.registry._get_registry_proto(store.project, allow_cache=False).version_id
    _retype_in_job(settings, "flights_7d", "DOUBLE")

    planned = _cli(settings, "plan")
    assert planned.returncode == 2
    breaking = (
        "retypes feature carrier_daily:flights_7d (Int64 -> Float64), used by cancellation_model"
    )
    assert breaking in " ".join(planned.stdout.split())
    refused = _cli(settings, "apply")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"error: refusing to apply: {breaking} (feature services affected: cancellation_model)"
    ]
    fresh = open_store(settings)
    assert (
        fresh.registry._get_registry_proto(fresh.project, allow_cache=False).version_id == version
    )


def test_unused_features_come_and_go_freely(tmp_path: Path, clean_redis_url: str) -> None:
    settings = _project(tmp_path, clean_redis_url)
    views = settings.repo_path / "feature_views.py"
    original = views.read_text()
    subset = [f for f in load_catalog(open_store(settings)).views["plane_daily"].features]
    subset.remove("manufacturer")  # no model uses it
    _view_argument(settings, "plane_daily", f"features={subset!r}")
    removed = apply(settings)
    assert [(c.kind, c.name, c.breaking) for c in removed.changes] == [
        ("remove", "plane_daily:manufacturer", False)
    ]
    views.write_text(original)
    added = apply(settings)
    assert [(c.kind, c.name) for c in added.changes] == [("add", "plane_daily:manufacturer")]


def test_removing_a_used_feature_is_refused(tmp_path: Path, clean_redis_url: str) -> None:
    settings = _project(tmp_path, clean_redis_url)
    _edit(settings.repo_path / "feature_services.py", '"flights_1d", ', "")
    kept = [
        "flights_7d",
        "avg_dep_delay_7d",
        "delayed_share_7d",
        "cancel_rate_7d",
        "cancel_rate_1d",
    ]
    _view_argument(settings, "carrier_daily", f"features={kept!r}")
    with pytest.raises(
        BreakingChangeError,
        match="removes feature carrier_daily:flights_1d, used by departure_delay_model",
    ):
        apply(settings)
    assert "flights_1d" in {
        f.name for f in open_store(settings).get_feature_view("carrier_daily").features
    }


@pytest.fixture
def serving(tmp_path: Path, clean_redis_url: str) -> Iterator[tuple[Project, list[int]]]:
    """A project, materialized, with the API answering lookups in a loop meanwhile."""
    settings = _project(tmp_path, clean_redis_url)
    open_store(settings).materialize(
        datetime(2013, 12, 1, tzinfo=UTC), datetime(2014, 1, 2, tzinfo=UTC)
    )
    statuses: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        with TestClient(create_app(settings)) as client:
            while not stop.is_set():
                answer = client.post(
                    "/get-online-features",
                    json={"feature_service": "cancellation_model",
                          "entities": {"origin": ["JFK"], "carrier": ["UA"]}},
                )  # fmt: skip
                statuses.append(answer.status_code)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield settings, statuses
    finally:
        stop.set()
        thread.join()


def test_concurrent_applies_while_serving(serving: tuple[Project, list[int]]) -> None:
    settings, statuses = serving
    (settings.repo_path / "model_z.py").write_text(
        "from feast import FeatureService\nfrom feature_views import plane_daily\n"
        "model_z = FeatureService(name='model_z', features=[plane_daily[['seats']]])\n"
    )
    env = {**os.environ, "FEATURESTORE_REPO_PATH": str(settings.repo_path),
           "FEATURESTORE_REDIS_URL": settings.redis_url}  # fmt: skip
    # Ours serializes and retries: both succeed.
    ours = [subprocess.Popen([FEATURESTORE, "apply"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    results = [(p.wait(), p.stderr.read() if p.stderr else "") for p in ours]
    assert [code for code, _ in results] == [0, 0], results
    # Plain `feast apply` twice at once: each succeeds or is refused loudly, never lost.
    plain = [subprocess.Popen([FEAST, "-c", str(settings.repo_path), "apply"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    for process in plain:
        code = process.wait()
        stderr = process.stderr.read() if process.stderr else ""
        assert code == 0 or "changed by another writer" in stderr, stderr
    assert _services(settings) == {"departure_delay_model", "cancellation_model", "model_z"}
    assert statuses and set(statuses) == {200}
