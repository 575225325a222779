"""Errors in a Feast repo's own definitions, reported where they are made.

While Feast imports a repo's Python files (``feast apply``, ``featurestore plan``), any
exception becomes a ``DefinitionError`` naming the repo file, the line and the
module-level object that line defines, with the original message (and the original
exception as its cause, for ``--debug``)::

    feature_services.py:10 (defining departure_delay_model): ValueError: Feature no_such
    does not exist in this feature view.
"""

from __future__ import annotations

import ast
import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from featurestore.errors import DefinitionError, FeatureStoreError


@contextmanager
def reported_where_defined(repo_path: Path) -> Iterator[None]:
    """Report an error raised while Feast imports the repo's files where it is made:
    the repo file and line, and the module-level object that line defines."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, DefinitionError):
            raise
        located = _locate(exc, repo_path.resolve())
        if located is None:
            raise
        path, line = located
        source = (repo_path / path).read_text(errors="replace")
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
