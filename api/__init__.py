"""The feature store's HTTP API (FastAPI).

``create_app`` and ``create_app_from_env`` are looked up on first use, so importing a
submodule (``api.worker``, which must run before Feast is imported) does not import the
whole app, and Feast with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import create_app, create_app_from_env

__all__ = ["create_app", "create_app_from_env"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from api import app

        return getattr(app, name)
    raise AttributeError(f"module 'api' has no attribute {name!r}")
