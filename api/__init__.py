"""The feature store's HTTP API (FastAPI)."""

from api.app import create_app, create_app_from_env

__all__ = ["create_app", "create_app_from_env"]
