"""Importing Feast without typeguard's instrumentation, for processes that only use the registry.

Feast decorates its classes (``FeatureView``, ``Entity``, ``FeatureService``, the data
sources, ...) with typeguard's ``@typechecked``, which, at import, fetches each class's
source, re-parses it and compiles an instrumented copy of every method. That is about
two thirds of ``import feast`` (measured: 6.1 s, 2.1 s without it). The checks it buys
are on constructor arguments of user definitions: worth having where definitions are
loaded (``featurestore apply``, ``featurestore plan``, ``feast apply``), useless where
objects are only rebuilt from the registry's protobufs (materializing, serving,
training sets, the catalog).

``skip_typechecks()`` replaces ``typeguard.typechecked`` by a decorator that returns its
target unchanged, so the Feast modules imported afterwards bind that one (they all do
``from typeguard import typechecked``). It is a no-op when any ``feast`` module is
already imported (its classes are decorated already; undecorating half of Feast would
be worse than either), and it is for a whole process: call it first thing in a command
or a server process that never loads user definitions, never from library code that
may share a process with an apply. ``import_feast()`` does that and imports Feast.

Other libraries in the same process that decorate with typeguard after the call lose
their checks too; none of our dependencies but Feast uses typeguard.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["import_feast", "skip_typechecks", "typechecks_skipped"]


def _identity(target: Any = None, **_options: Any) -> Any:
    """``typechecked`` without checks: ``@typechecked`` and ``@typechecked(...)`` alike."""
    if target is None:
        return _returns_target
    return target


def _returns_target(target: Any) -> Any:
    return target


def _feast_imported() -> bool:
    return any(name == "feast" or name.startswith("feast.") for name in sys.modules)


def skip_typechecks() -> bool:
    """Make typeguard's decorator an identity for Feast's coming import; returns whether
    Feast will be (or already is) imported without instrumentation."""
    if typechecks_skipped():
        return True
    if _feast_imported():
        return False
    import typeguard

    decorator: Callable[..., Any] = _identity
    typeguard.typechecked = decorator
    return True


def typechecks_skipped() -> bool:
    """Whether ``skip_typechecks()`` is in force in this process."""
    typeguard = sys.modules.get("typeguard")
    return typeguard is not None and getattr(typeguard, "typechecked", None) is _identity


def import_feast() -> ModuleType:
    """``import feast`` with typeguard's instrumentation inactive (unless Feast was already
    imported, in which case the module is returned as it is)."""
    skip_typechecks()
    import feast

    return feast
