"""A new user's path, as the README's "Your own project" section writes it, run with the
product installed the way users install it.

The session builds a fresh venv and installs the checkout into it with a non-editable
``pip install`` (from a copy of the checkout, so nothing is written into it). Its
dependencies come from the test run's own environment through a ``.pth`` line, so the
install takes seconds, not the minutes of downloading Feast again; the product itself
(``featurestore``, its CLI and package data such as the examples ``init`` writes) comes
only from the installed wheel: the checkout is never on the path of the commands run.

The walk-through runs every line of the section's ``sh`` blocks in order, in a folder
outside the checkout: ``cd`` changes the folder, ``curl -s URL -d BODY`` is sent with
httpx (curl need not be installed), and the API's port 6566 is replaced by a free one.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from featurestore.redis_server import free_port
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.redis]

_COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "data", "__pycache__", "*.egg-info", "build", ".mypy_cache", ".ruff_cache"
)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh venv with the checkout installed non-editable."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    shutil.copytree(ROOT, source, ignore=_COPY_IGNORE)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    deps = next((Path(sys.prefix) / "lib").glob("python3*/site-packages"))
    (site / "zz_featurestore_test_deps.pth").write_text(f"{deps}\n")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps"]
    subprocess.run([*pip, "--no-build-isolation", "--no-index", str(source)], check=True)
    shutil.rmtree(source)
    return venv / "bin"


def _env(bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    return env


def _section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def _commands(section: str) -> list[str]:
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command:
                lines.append(command)
    return lines


@pytest.fixture
def walkthrough(installed: Path, tmp_path: Path) -> Iterator[dict[str, object]]:
    """Run the section's commands; yield what they printed and answered."""
    cwd = tmp_path
    env = _env(installed)
    port = str(free_port())
    seen: dict[str, object] = {"outputs": [], "answers": []}
    started: list[list[str]] = []
    try:
        for command in _commands(_section("Your own project")):
            command = command.replace("6566", port)
            argv = shlex.split(command)
            if argv[0] == "cd":
                cwd = cwd / argv[1]
                seen["project"] = cwd
                continue
            if argv[0] == "curl":
                url, body = argv[argv.index("-s") + 1], argv[argv.index("-d") + 1]
                url = url if "://" in url else f"http://{url}"  # as curl reads it
                answer = httpx.post(url, content=body, timeout=30)
                assert answer.status_code == 200, answer.text
                seen["answers"].append(answer.json())  # type: ignore[attr-defined]
                continue
            done = subprocess.run(
                argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
            seen["outputs"].append((command, done.stdout))  # type: ignore[attr-defined]
            if argv[1:3] in (["redis", "start"], ["api", "start"]):
                started.append([argv[0], argv[1], "stop"])
            elif argv[1:3] in (["redis", "stop"], ["api", "stop"]):
                started = [s for s in started if s[1] != argv[1]]
        yield seen
    finally:
        for stop in reversed(started):  # a failed step leaves nothing running
            subprocess.run(stop, cwd=cwd, env=env, capture_output=True, timeout=60)


def test_the_installed_product_imports_nothing_from_the_checkout(installed: Path) -> None:
    code = "import featurestore, api, ingestion; print(featurestore.__file__, api.__file__)"
    done = subprocess.run(
        [str(installed / "python"), "-c", code],
        cwd=installed,
        env=_env(installed),
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(ROOT) not in done.stdout
    assert "site-packages" in done.stdout


def test_readme_your_own_project_as_written(walkthrough: dict[str, object]) -> None:
    outputs = dict(walkthrough["outputs"])  # type: ignore[call-overload]
    project = walkthrough["project"]
    assert isinstance(project, Path) and (project / "featurestore.yaml").is_file()
    assert "trips: ok, 6 declared columns match" in outputs["featurestore raw check"]
    assert "driver_daily" in outputs["featurestore ingest run"]
    assert "success" in outputs["featurestore ingest run"]
    (answer,) = walkthrough["answers"]  # type: ignore[misc]
    names = answer["metadata"]["feature_names"]
    assert names == ["driver_id", "trips_1d", "fare_avg_1d", "rating_avg_1d"]
    for result in answer["results"][1:]:
        # January 2026 is older than the view's TTL: stale, but with its value.
        assert result["statuses"] == ["OUTSIDE_MAX_AGE"]
        assert result["values"][0] is not None
    lookup = outputs[next(c for c in outputs if c.startswith("featurestore demo lookup"))]
    assert "driver_model for the newest entity in its feature tables: driver_id=" in lookup
    train = pq.read_table(project / "train.parquet")
    assert train.num_rows > 200
    assert {"driver_id", "event_timestamp", "rated_5", "trips_1d"} <= set(train.column_names)
    assert (project / "train.manifest.json").is_file()


def test_init_flights_writes_the_demo_project(installed: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(installed / "featurestore"), "init", "flights_copy", "--example", "flights"],
        cwd=tmp_path,
        env=_env(installed),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    target = tmp_path / "flights_copy"
    for relative in ("feature_repo/feature_views.py", "ingestion/jobs/carrier_daily.sql"):
        assert (target / relative).read_text() == (ROOT / relative).read_text()
    assert (target / "demo" / "load_nycflights13.py").is_file()
    assert "name: flights" in (target / "featurestore.yaml").read_text()
    listed = subprocess.run(
        [str(installed / "featurestore"), "raw", "list"],
        cwd=target,
        env=_env(installed),
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stderr
    assert "flights" in listed.stdout and "airports" in listed.stdout
