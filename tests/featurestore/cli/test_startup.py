"""What each command imports: the Feast-free commands never import Feast (nor pandas), the
registry-only commands import it without typeguard's instrumentation, and ``plan`` and
``apply`` keep the checks on user definitions.

Each command runs in its own interpreter through a small wrapper that, after the command,
writes which heavy modules ended up in ``sys.modules`` and whether typeguard's decorator
was switched off. No timings here: ``bench/bench_startup.py`` measures the speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import copy_project, feast_cli

_WRAPPER = """
import json, sys
report, sys.argv = sys.argv[1], ["featurestore", *sys.argv[2:]]
code = 0
try:
    from featurestore.cli import main
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
finally:
    from featurestore.feast_import import typechecks_skipped
    heavy = ("feast", "pandas", "pyarrow", "typeguard", "fastapi", "ibis", "sqlalchemy")
    with open(report, "w") as out:
        json.dump({"code": code, "modules": [m for m in heavy if m in sys.modules],
                   "skipped": typechecks_skipped()}, out)
"""

# Every group and top-level command; a new one gets its --help checked here too.
_COMMANDS = [
    "init", "raw", "redis", "ingest", "api", "training", "demo", "catalog", "monitor",
    "serve", "plan", "apply", "materialize", "materialize-incremental", "push",
]  # fmt: skip


def _run(tmp_path: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(report), *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
    )
    result: dict[str, Any] = json.loads(report.read_text())
    result["stderr"] = done.stderr
    return result


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def test_every_command_is_registered() -> None:
    from featurestore.cli import app

    names = {group.name for group in app.registered_groups}
    names |= {command.name for command in app.registered_commands}
    assert names == set(_COMMANDS)


@pytest.mark.parametrize("command", ["", *_COMMANDS])
def test_help_imports_no_feast(tmp_path: Path, command: str) -> None:
    result = _run(tmp_path, {}, *command.split(), "--help")
    assert result["code"] == 0, result["stderr"]
    assert result["modules"] == []


_UNREACHABLE = {"FEATURESTORE_REDIS_URL": "redis://127.0.0.1:9/0"}  # nothing listens there


@pytest.mark.parametrize(
    "args",
    [
        ["redis", "status"],
        ["ingest", "status"],
        ["ingest", "run", "no_such_job"],
        ["api", "status"],
        ["raw", "list"],
        ["raw", "check"],
        ["raw", "preview", "airlines"],
        ["init", "{tmp}/new_project"],
    ],
)
def test_feast_free_commands(tmp_path: Path, repo: Path, args: list[str]) -> None:
    env = {"FEATURESTORE_REPO_PATH": str(repo), **_UNREACHABLE}
    result = _run(tmp_path, env, *(arg.format(tmp=tmp_path) for arg in args))
    assert "Traceback" not in result["stderr"], result["stderr"]
    assert "feast" not in result["modules"], result["stderr"]
    assert "typeguard" not in result["modules"]
    assert "pandas" not in result["modules"]


def test_a_known_error_is_one_line_without_feast(tmp_path: Path, repo: Path) -> None:
    """``cli/_errors.py`` recognises errors without importing Feast to check them."""
    result = _run(tmp_path, {"FEATURESTORE_REPO_PATH": str(repo)}, "ingest", "run", "nope")
    assert result["code"] == 1
    assert result["stderr"].startswith("error: nope: unknown job"), result["stderr"]
    assert result["modules"] == ["pyarrow"]  # the job runner's, no Feast


@pytest.mark.redis
def test_registry_commands_skip_typeguard_and_plan_keeps_it(
    tmp_path: Path, repo: Path, clean_redis_url: str
) -> None:
    applied = feast_cli(repo, clean_redis_url, "apply")
    assert applied.returncode == 0, applied.stderr
    env = {"FEATURESTORE_REPO_PATH": str(repo), "FEATURESTORE_REDIS_URL": clean_redis_url}
    catalog = _run(tmp_path, env, "catalog", "services")
    assert catalog["code"] == 0, catalog["stderr"]
    assert "feast" in catalog["modules"]
    assert catalog["skipped"] is True
    plan = _run(tmp_path, env, "plan")
    assert plan["code"] == 0, plan["stderr"]
    assert "feast" in plan["modules"]
    assert plan["skipped"] is False
