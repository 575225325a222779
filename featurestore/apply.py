"""Safe applies: plan first, refuse breaking changes, serialize writers.

``plan_apply`` compares the registry with the repo's definitions (see ``featurestore.plan``).
``apply`` refuses a breaking plan with a message naming the affected feature services,
then runs Feast's own apply while holding the project's apply lock, retrying when
another writer that does not take the lock (a plain ``feast apply``) changed the
registry in between (``ConcurrentRegistryUpdateError`` from our registry store).
"""

from __future__ import annotations

import ast
import os
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from io import StringIO
from pathlib import Path

from feast import FeatureStore
from feast.infra.registry.registry import FeastObjectType
from feast.repo_operations import apply_total, parse_repo

from featurestore.errors import (
    BreakingChangeError,
    ConcurrentRegistryUpdateError,
    DefinitionError,
    FeatureStoreError,
)
from featurestore.feast_plugins.registry_store import exclusive_lock, registry_file
from featurestore.plan import Plan, Snapshot, describe_breaking, plan
from featurestore.project import Project
from featurestore.store import repo_config


def _forget_repo_modules(repo_path: Path) -> None:
    """Drop the repo's modules from ``sys.modules`` so edited definitions are read anew."""
    names = {
        ".".join(p.relative_to(repo_path).with_suffix("").parts) for p in repo_path.glob("**/*.py")
    }
    for name in names:
        sys.modules.pop(name, None)


@contextmanager
def _in_repo(repo_path: Path) -> Iterator[None]:
    """Feast imports repo files as modules named relative to the working directory."""
    cwd = Path.cwd()
    _forget_repo_modules(repo_path)
    os.chdir(repo_path)
    sys.path.insert(0, str(repo_path))
    try:
        yield
    finally:
        sys.path.remove(str(repo_path))
        os.chdir(cwd)
        _forget_repo_modules(repo_path)


@contextmanager
def _definitions(settings: Project) -> Iterator[None]:
    """Report an error raised while Feast imports the repo's files where it is made:
    the repo file and line, and the module-level object that line defines."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, DefinitionError):
            raise
        located = _locate(exc, settings.repo_path.resolve())
        if located is None:
            raise
        path, line = located
        source = (settings.repo_path / path).read_text(errors="replace")
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        if not isinstance(exc, FeatureStoreError):
            message = f"{type(exc).__name__}: {message}"
        raise DefinitionError(path, line, _defined_at(source, line), message) from exc


def _locate(exc: BaseException, repo: Path) -> tuple[Path, int] | None:
    """The repo file and line the error comes from: a syntax error's own position, else
    the innermost frame of a repo file at module level (else in a function of it)."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        inside = _relative(exc.filename, repo)
        return (inside, exc.lineno) if inside is not None else None
    frames = [
        (inside, frame.lineno or 0, frame.name)
        for frame in traceback.extract_tb(exc.__traceback__)
        if (inside := _relative(frame.filename, repo)) is not None
    ]
    chosen = [f for f in frames if f[2] == "<module>"] or frames
    if not chosen:
        return None
    path, line, _ = chosen[-1]
    return path, line


def _relative(filename: str, repo: Path) -> Path | None:
    path = Path(filename).resolve()
    return path.relative_to(repo) if path.is_relative_to(repo) else None


def _defined_at(source: str, line: int) -> str | None:
    """The module-level name that the statement spanning ``line`` defines, if any."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # The file does not parse: take the last top-level `name =`, def or class above.
        for text in reversed(source.splitlines()[:line]):
            if match := _TOP_LEVEL_NAME.match(text):
                return match.group(1) or match.group(2)
        return None
    for statement in tree.body:
        if statement.lineno <= line <= (statement.end_lineno or statement.lineno):
            return _names(statement)
    return None


# At column 0: `def name`, `class name`, `name =` or `name: type =`.
_TOP_LEVEL_NAME = re.compile(
    r"(?:(?:async\s+)?def|class)\s+([A-Za-z_]\w*)|([A-Za-z_]\w*)\s*(?::[^=]+)?=(?!=)"
)


def _names(statement: ast.stmt) -> str | None:
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return statement.name
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
        targets = [statement.target]
    names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return ", ".join(names) or None


def _registry_store(settings: Project) -> FeatureStore | None:
    """The project's store, or None before the first apply (opening it would then
    write an empty registry, and a plan writes nothing)."""
    config = repo_config(settings)
    if not registry_file(config.registry, settings.repo_path).exists():
        return None
    return FeatureStore(repo_path=str(settings.repo_path), config=config)


def current_snapshot(settings: Project) -> Snapshot:
    """The registry as it is now (empty when nothing was applied yet)."""
    store = _registry_store(settings)
    if store is None:
        return Snapshot(views={}, services={}, entities={})
    return Snapshot.of(FeastObjectType.get_objects_from_registry(store.registry, store.project))


def desired_snapshot(settings: Project) -> Snapshot:
    """The repo's Python definitions, every object Feast's apply would write."""
    with _in_repo(settings.repo_path), redirect_stdout(StringIO()):
        with _definitions(settings):
            contents = parse_repo(settings.repo_path)
        # Apply completes the objects before writing them (a source's timestamp field, a
        # view's features and entity columns from its source, the dummy entity's column);
        # the same inference makes the desired specs what apply will write. Before the
        # first apply there is nothing to compare them with: additions only.
        store = _registry_store(settings)
        if store is not None:
            store._make_inferences(
                contents.data_sources,
                contents.entities,
                contents.feature_views,
                contents.on_demand_feature_views,
                contents.stream_feature_views,
                contents.feature_services,
                contents.label_views,
            )
    return Snapshot.of(FeastObjectType.get_objects_from_repo_contents(contents))


def plan_apply(settings: Project) -> Plan:
    return plan(current_snapshot(settings), desired_snapshot(settings))


def apply_lock_path(settings: Project) -> Path:
    path = registry_file(repo_config(settings).registry, settings.repo_path)
    return path.with_name(path.name + ".apply.lock")


def apply(settings: Project, *, allow_breaking: bool = False, attempts: int = 5) -> Plan:
    """Plan, refuse breaking changes, then apply under the project's apply lock."""
    with exclusive_lock(apply_lock_path(settings)):
        result = plan_apply(settings)
        if result.breaking and not allow_breaking:
            services = [s for c in result.breaking for s in c.affected_services]
            raise BreakingChangeError(describe_breaking(result), services)
        for attempt in range(attempts):
            try:
                with (
                    _in_repo(settings.repo_path),
                    redirect_stdout(StringIO()),
                    _definitions(settings),
                ):
                    apply_total(repo_config(settings), settings.repo_path, False)
                return result
            except ConcurrentRegistryUpdateError:
                if attempt == attempts - 1:
                    raise
    return result
