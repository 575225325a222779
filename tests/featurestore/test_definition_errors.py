"""A mistake in the repo's definitions is one line naming the file, line and object.

Each test breaks a copy of the demo repo the way a user would and runs the real CLI:
stderr is one line, exit code 1; ``--debug`` or ``FEATURESTORE_DEBUG=1`` shows the
traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project

pytestmark = pytest.mark.slow
FEATURESTORE = str(Path(sys.executable).with_name("featurestore"))


def _cli(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "FEATURESTORE_REPO_PATH": str(repo), **env}
    return subprocess.run([FEATURESTORE, *args], env=environ, capture_output=True, text=True)


def _break(repo: Path, file: str, old: str, new: str) -> int:
    """Replace ``old`` by ``new`` in the repo file; the line number of the edit."""
    path = repo / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_project(tmp_path)


@pytest.mark.parametrize("command", ["apply", "plan"])
def test_a_feature_the_view_lacks_names_the_service(repo: Path, command: str) -> None:
    line = _break(repo, "feature_services.py", '"flights_1d", ', '"flights_1d", "no_such", ')
    result = _cli(repo, command)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: feature_services.py:{line} (defining departure_delay_model): "
        "ValueError: Feature no_such does not exist in this feature view."
    ]
    assert not (repo.parent / "data" / "registry.db").exists()


def test_a_syntax_error_names_the_object_above_it(repo: Path) -> None:
    line = _break(repo, "feature_views.py", "ttl=timedelta(days=2),", "ttl=timedelta(days=2) 2,")
    result = _cli(repo, "apply")
    assert result.returncode == 1
    (message,) = result.stderr.strip().splitlines()
    assert message.startswith(
        f"error: feature_views.py:{line} (defining carrier_daily): SyntaxError: invalid syntax"
    )


def test_an_import_error_names_the_import(repo: Path) -> None:
    line = _break(repo, "feature_services.py", "weather_hourly\n", "weather_daily\n")
    result = _cli(repo, "apply")
    assert result.returncode == 1
    (message,) = result.stderr.strip().splitlines()
    assert message.startswith(
        f"error: feature_services.py:{line}: ImportError: "
        "cannot import name 'weather_daily' from 'feature_views'"
    )


def test_our_own_errors_in_a_definition_get_its_place(repo: Path) -> None:
    """``job_feature_view`` refusing a column: where, then our message as it was."""
    call = 'plane_daily = job_feature_view(\n    "plane_daily",'
    line = _break(repo, "feature_views.py", call, f'{call}\n    features=["no_such"],')
    result = _cli(repo, "apply")
    assert result.returncode == 1
    (message,) = result.stderr.strip().splitlines()
    assert message.startswith(
        f"error: feature_views.py:{line} (defining plane_daily): plane_daily: "
    )
    assert "does not produce column(s) no_such" in message


@pytest.mark.parametrize("how", ["--debug", "FEATURESTORE_DEBUG=1"])
def test_debug_shows_the_traceback(repo: Path, how: str) -> None:
    _break(repo, "feature_services.py", '"flights_1d", ', '"flights_1d", "no_such", ')
    if how == "--debug":
        result = _cli(repo, "--debug", "apply")
    else:
        result = _cli(repo, "apply", FEATURESTORE_DEBUG="1")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "ValueError: Feature no_such does not exist in this feature view." in result.stderr
    assert "DefinitionError: feature_services.py:" in result.stderr
