"""The project file, how commands find it, and SQL over the project's tables."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from featurestore import sql
from featurestore.errors import ConfigError, ProjectNotFoundError
from featurestore.project import Project

FEATURE_STORE_YAML = "project: shop\nprovider: local\nregistry: ../data/registry.db\n"


def _project(root: Path, text: str = "name: shop\n") -> Path:
    (root / "feature_repo").mkdir(parents=True)
    (root / "feature_repo" / "feature_store.yaml").write_text(FEATURE_STORE_YAML)
    (root / "featurestore.yaml").write_text(text)
    return root


def test_defaults_are_relative_to_the_project_folder(tmp_path: Path) -> None:
    root = _project(tmp_path / "shop")
    project = Project.load(root)
    assert project.name == "shop"
    assert project.repo_path == root / "feature_repo"
    assert project.jobs_dir == root / "jobs"
    assert project.labels_dir == root / "feature_repo" / "labels"
    assert project.data_dir == root / "data"
    assert project.layout.table("t") == root / "data" / "features" / "t.parquet"
    assert project.redis_url == "redis://127.0.0.1:6399/0"


def test_found_from_a_subfolder_then_env_then_explicit(tmp_path: Path) -> None:
    one = _project(tmp_path / "one")
    two = _project(tmp_path / "two", "name: two\n")
    deep = one / "feature_repo" / "labels"
    deep.mkdir()
    assert Project.find(environ={}, cwd=deep).root == one
    assert Project.find(environ={"FEATURESTORE_PROJECT": str(two)}, cwd=deep).root == two
    env = {"FEATURESTORE_PROJECT": str(two)}
    assert Project.find(one, environ=env, cwd=tmp_path).root == one


def test_no_project_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError, match="featurestore init DIR"):
        Project.find(environ={}, cwd=tmp_path)
    with pytest.raises(ProjectNotFoundError, match=r"no featurestore\.yaml in"):
        Project.find(tmp_path, environ={})


def test_redis_url_expands_variables_and_the_environment_wins(tmp_path: Path) -> None:
    text = "name: shop\nonline_store:\n  redis_url: redis://${REDIS_HOST:-127.0.0.1}:${PORT}/2\n"
    root = _project(tmp_path / "shop", text)
    assert Project.load(root, environ={"PORT": "7001"}).redis_url == "redis://127.0.0.1:7001/2"
    with pytest.raises(ConfigError, match=r"\$\{PORT\} is not set"):
        Project.load(root, environ={})
    env = {"PORT": "1", "FEATURESTORE_REDIS_URL": "redis://10.0.0.1:6379/0"}
    assert Project.load(root, environ=env).redis_url == "redis://10.0.0.1:6379/0"


def test_a_project_never_shows_its_redis_password(tmp_path: Path) -> None:
    root = _project(tmp_path / "shop", "name: shop\n")
    project = Project.load(root, environ={"FEATURESTORE_REDIS_URL": "redis://:s3cretpw@h:1/0"})
    assert project.redis_url == "redis://:s3cretpw@h:1/0"
    assert "s3cretpw" not in repr(project) and "s3cretpw" not in str(project)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: shop\nsources: [\n", r"featurestore\.yaml:\d+: not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
        ("name: shop\njob: jobs\n", r"unknown key\(s\) job"),
        ("name: 'my shop'\n", "'name' must be a name"),
        ("name: shop\nfeast_repo: elsewhere\n", "has no feature_store.yaml"),
        ("name: shop\nonline_store:\n  url: x\n", "online_store takes only"),
        ("name: shop\nonline_store:\n  redis_url: http://x\n", "must look like redis://"),
    ],
)
def test_a_broken_project_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    root = _project(tmp_path / "shop", text)
    with pytest.raises(ConfigError, match=message) as error:
        Project.load(root, environ={})
    assert "\n" not in str(error.value)


def test_a_bare_feast_repo_keeps_its_data_beside_it(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "feature_store.yaml").write_text(FEATURE_STORE_YAML)
    project = Project.for_repo(repo, environ={})
    assert (project.data_dir, project.sources, project.project_file) == (
        tmp_path / "data",
        {},
        None,
    )


def test_connect_registers_feature_tables_by_name(tmp_path: Path) -> None:
    project = Project.load(_project(tmp_path / "shop"))
    for name in ("orders", "users"):
        folder = project.layout.table(name) / "partition_date=20260101"
        folder.mkdir(parents=True)
        target = folder / "part-0.parquet"
        duckdb.execute(f"COPY (SELECT 1 AS x) TO {sql.path_literal(target)} (FORMAT parquet)")
    con = project.connect()
    assert con.execute("SELECT sum(x) FROM orders").fetchone() == (1,)
    only = project.connect({"USERS"})
    views = {row[0] for row in only.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    assert "users" in views and "orders" not in views
    assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
