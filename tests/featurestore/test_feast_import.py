"""``featurestore.feast_import``: Feast without typeguard still works over a real repo, and
the commands that load user definitions (``plan``, ``apply``) keep typeguard's checks.

Each case runs in its own interpreter: whether the checks are on is a property of the
process (the test session itself imports Feast as it is).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project, feast_cli

FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))

# A FeatureView with a wrongly typed argument (description must be a str).
_BAD_VIEW = """
from datetime import timedelta

from feast import FeatureView

from entities import carrier
from feature_views import carrier_daily

bad_view = FeatureView(name="bad_view", entities=[carrier], ttl=timedelta(days=1),
                       source=carrier_daily.batch_source, description=42)
"""

_FAST = """
import sys
from featurestore.feast_import import import_feast, typechecks_skipped
feast = import_feast()
assert typechecks_skipped()
from featurestore.project import Project
from featurestore.store import open_store
store = open_store(Project.find())
print(",".join(sorted(view.name for view in store.list_feature_views())))
entity = store.get_entity("carrier")
view = store.get_feature_view("carrier_daily")
feast.FeatureView(name="unchecked", entities=[entity], source=view.batch_source,
                  description=42)  # typeguard would raise TypeCheckError here
print("unchecked")
"""


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_project(tmp_path)


@pytest.mark.redis
def test_feast_without_typeguard_reads_the_registry(repo: Path, clean_redis_url: str) -> None:
    applied = feast_cli(repo, clean_redis_url, "apply")
    assert applied.returncode == 0, applied.stderr
    env = {"FEATURESTORE_REPO_PATH": str(repo), "FEATURESTORE_REDIS_URL": clean_redis_url}
    done = _python(_FAST, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "carrier_daily,departure_status,plane_daily,weather_hourly",
        "unchecked",
    ]


def test_it_leaves_an_imported_feast_alone() -> None:
    code = (
        "import feast\n"
        "from featurestore.feast_import import skip_typechecks, typechecks_skipped\n"
        "print(skip_typechecks(), typechecks_skipped())\n"
    )
    done = _python(code, {})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_plan_and_apply_keep_typeguards_checks(repo: Path, command: str) -> None:
    (repo / "bad_view.py").write_text(_BAD_VIEW)
    env = {**os.environ, "FEATURESTORE_REPO_PATH": str(repo)}
    done = subprocess.run([FEATURESTORE, command], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "TypeCheckError" in done.stderr
    assert 'argument "description" (int) is not an instance of str' in done.stderr
