"""A project: the folder a team owns, described by its project file ``featurestore.yaml``.

    name: shop                      # the project's name
    feast_repo: feature_repo        # the Feast repo (feature_store.yaml and definitions)
    jobs: jobs                      # the SQL feature jobs, one .sql file per feature table
    labels: feature_repo/labels     # label queries, labels/<feature service>.sql
    data: data                      # feature tables, quarantine, run history, local Redis
    online_store:
      redis_url: redis://127.0.0.1:6399/0   # ${VAR} expanded; FEATURESTORE_REDIS_URL wins
    sources:                        # raw sources, read by SQL by name (featurestore.raw)
      orders: {format: csv, path: raw/orders.csv, columns: {...}}
    monitor:                        # drift rules, freshness objectives, serving log
      drift: {numeric: {method: auto}}  # (featurestore.monitor.config)
    engine: duckdb                  # or spark (featurestore.engine): jobs, training, materialize
    spark: {master: local[2], conf: {spark.executor.memory: 4g}}

Every path is relative to the project folder. Every command finds its project the way
git and dbt do: ``--project DIR``, then ``FEATURESTORE_PROJECT``, then the current folder
and its parents. ``FEATURESTORE_REPO_PATH`` (a Feast repo) is still honoured: the project
is the one whose ``feast_repo`` it is, or, for a bare Feast repo with no project file,
a project with its data folder beside the repo. Nothing is looked up relative to where
the library is installed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurestore.engine import EngineConfig, engine_from_env, parse_engine
from featurestore.errors import ConfigError, ProjectNotFoundError
from featurestore.layout import DataLayout
from featurestore.monitor.config import MonitorConfig, parse_monitor
from featurestore.settings import DEFAULT_REDIS_URL, parse_redis_url

if TYPE_CHECKING:
    import duckdb

    from featurestore.raw import RawSource

PROJECT_FILE = "featurestore.yaml"
_KEYS = {"name", "feast_repo", "jobs", "labels", "data", "online_store", "sources", "monitor"}
_KEYS |= {"engine", "spark"}
_ONLINE_KEYS = {"redis_url"}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Project:
    """A project's name, folders, online store address and raw sources."""

    root: Path
    name: str
    repo_path: Path
    jobs_dir: Path
    labels_dir: Path
    data_dir: Path
    redis_url: str = field(repr=False)  # it may hold a password
    source_specs: Mapping[str, Any] = field(default_factory=dict)
    project_file: Path | None = None
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)

    def with_engine(self, engine: str | None = None, master: str | None = None) -> Project:
        """This project with a command's ``--engine`` / ``--spark-master`` applied."""
        if engine is None and master is None:
            return self
        return replace(self, engine=self.engine.override(engine, master))

    @cached_property
    def sources(self) -> Mapping[str, RawSource]:
        """The declared raw sources, parsed (and checked) when first asked for: commands
        that read none (``redis``, ``materialize``, serving) never pay for it."""
        if not self.source_specs:
            return {}
        from featurestore.raw import parse_sources

        return parse_sources(self.source_specs, self.root)

    @property
    def layout(self) -> DataLayout:
        return DataLayout(self.data_dir)

    def relative(self, path: Path | str) -> str:
        """``path`` relative to the project folder when it lies inside it."""
        candidate = Path(os.path.abspath(path))  # not resolve(): a table is a link
        try:
            return str(candidate.relative_to(self.root))
        except ValueError:
            return str(path)

    def label_query_path(self, feature_service: str) -> Path:
        return self.labels_dir / f"{feature_service}.sql"

    # -- finding and loading ---------------------------------------------------------

    @classmethod
    def find(
        cls,
        explicit: Path | str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Project:
        """The project: ``explicit``, then ``FEATURESTORE_PROJECT``, then
        ``FEATURESTORE_REPO_PATH``, then the current folder and its parents."""
        env = os.environ if environ is None else environ
        if explicit is None:
            explicit = env.get("FEATURESTORE_PROJECT") or None
        if explicit is not None:
            folder = Path(explicit).expanduser().resolve()
            if (folder / PROJECT_FILE).is_file():
                return cls.load(folder, environ=env)
            raise ProjectNotFoundError(f"no {PROJECT_FILE} in {folder}")
        repo = env.get("FEATURESTORE_REPO_PATH")
        if repo:
            if not (Path(repo) / "feature_store.yaml").is_file():
                raise ConfigError(f"no feature_store.yaml in {Path(repo).resolve()}")
            return cls.for_repo(Path(repo), environ=env)
        start = (cwd or Path.cwd()).resolve()
        for folder in (start, *start.parents):
            if (folder / PROJECT_FILE).is_file():
                return cls.load(folder, environ=env)
        raise ProjectNotFoundError(
            f"no {PROJECT_FILE} in {start} or any folder above it: run this inside a project, "
            "pass --project DIR or set FEATURESTORE_PROJECT (featurestore init DIR makes one)"
        )

    @classmethod
    def load(cls, root: Path, *, environ: Mapping[str, str] | None = None) -> Project:
        """The project whose project file is ``root/featurestore.yaml``."""
        env = os.environ if environ is None else environ
        root = root.resolve()
        path = root / PROJECT_FILE
        spec = read_yaml_file(path)
        unknown = sorted(set(spec) - _KEYS)
        if unknown:
            raise ConfigError(
                f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}"
            )
        name = spec.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"{path}: 'name' must be a name like my_project, got {name!r}")
        repo = _folder(root, spec, "feast_repo", "feature_repo", path)
        if not (repo / "feature_store.yaml").is_file():
            raise ConfigError(f"{path}: feast_repo {repo} has no feature_store.yaml")
        online = spec.get("online_store") or {}
        if not isinstance(online, dict) or set(online) - _ONLINE_KEYS:
            raise ConfigError(f"{path}: online_store takes only: {', '.join(sorted(_ONLINE_KEYS))}")
        url = env.get("FEATURESTORE_REDIS_URL") or _expand(
            str(online.get("redis_url") or DEFAULT_REDIS_URL), env, path
        )
        parse_redis_url(url)
        sources_spec = spec.get("sources") or {}
        if not isinstance(sources_spec, dict):
            raise ConfigError(f"{path}: 'sources' must map source names to their settings")
        return cls(
            root=root,
            name=name,
            repo_path=repo,
            jobs_dir=_folder(root, spec, "jobs", "jobs", path),
            labels_dir=repo / "labels"
            if spec.get("labels") is None
            else _folder(root, spec, "labels", "", path),
            data_dir=_folder(root, spec, "data", "data", path),
            redis_url=url,
            source_specs=sources_spec,
            project_file=path,
            monitor=parse_monitor(spec.get("monitor"), path),
            engine=parse_engine(spec.get("engine"), spec.get("spark"), path, env),
        )

    @classmethod
    def for_repo(
        cls,
        repo_path: Path,
        *,
        redis_url: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Project:
        """The project whose Feast repo is ``repo_path``; a bare repo (no project file
        above it) gets its data folder beside the repo and no jobs or sources."""
        env = os.environ if environ is None else environ
        repo = repo_path.expanduser().resolve()
        for folder in repo.parents:
            if (folder / PROJECT_FILE).is_file():
                project = cls.load(folder, environ=env)
                if project.repo_path == repo:
                    if redis_url is not None:
                        parse_redis_url(redis_url)
                        project = replace(project, redis_url=redis_url)
                    return project
                break
        url = redis_url or env.get("FEATURESTORE_REDIS_URL") or DEFAULT_REDIS_URL
        parse_redis_url(url)
        root = repo.parent
        return cls(
            root=root,
            name=repo.name,
            repo_path=repo,
            jobs_dir=root / "jobs",
            labels_dir=repo / "labels",
            data_dir=root / "data",
            redis_url=url,
            engine=engine_from_env(env),
        )

    # -- SQL over the project's tables -----------------------------------------------

    def connect(
        self, only: Collection[str] | None = None, **options: Any
    ) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection (``featurestore.sql.connect(**options)``) on which the raw
        sources, the feature tables and their quarantines are readable by name.

        ``only`` limits them to those names: a view over a feature table lists all its
        partition files, and a database source is copied in when registered.
        """
        from featurestore import sql

        wanted = None if only is None else {name.lower() for name in only}
        con = sql.connect(**options)
        try:
            if self.sources:
                from featurestore.raw import attach

                attach(con, self.sources, only=wanted)
            tables = {**self.layout.feature_tables()}
            for name, path in tables.items():
                if wanted is None or name.lower() in wanted:
                    con.execute(
                        f"CREATE OR REPLACE VIEW {sql.ident(name)} AS "
                        f"SELECT * FROM {sql.parquet_scan(path)}"
                    )
            for name, folder in self.layout.quarantines().items():
                if wanted is None or name.lower() in wanted:
                    pattern = sql.path_literal(folder / "*.parquet")
                    con.execute(
                        f"CREATE OR REPLACE VIEW {sql.ident(name)} AS "
                        f"SELECT * FROM read_parquet({pattern}, union_by_name = true)"
                    )
        except BaseException:
            con.close()
            raise
        return con

    def table_names(self) -> list[str]:
        """Every name SQL over this project can read: raw sources, then feature tables."""
        return [*self.sources, *self.layout.feature_tables()]


def read_yaml_file(path: Path, *, expand: bool = False) -> dict[str, Any]:
    """A YAML file holding a mapping (``{}`` when empty); ``expand`` expands environment
    variables first, as Feast does for ``feature_store.yaml``. Unreadable or malformed
    files are one ``ConfigError`` naming the file and line."""
    import yaml

    try:
        text = path.read_text()
        loaded = yaml.safe_load(os.path.expandvars(text) if expand else text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(loaded).__name__}")
    return loaded


def _folder(root: Path, spec: Mapping[str, Any], key: str, default: str, path: Path) -> Path:
    value = spec.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: {key!r} must be a folder path, got {value!r}")
    return (root / value).resolve()


def _expand(text: str, env: Mapping[str, str], path: Path) -> str:
    """``${VAR}`` and ``${VAR:-default}`` from the environment; an unset one is an error."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"{path}: ${{{name}}} is not set in the environment")

    return _VAR.sub(value, text)
