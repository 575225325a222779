"""The errors the CLI reports as one line instead of a traceback.

Feast's and redis-py's errors are recognised without importing either: a command that
never imported Feast cannot raise a ``FeastError``, so the class is looked up only in
``sys.modules`` (importing Feast to check would cost seconds on every failing command).
"""

from __future__ import annotations

import sys

from featurestore.errors import FeatureStoreError


def _redis_unreachable(exc: BaseException) -> bool:
    exceptions = sys.modules.get("redis.exceptions")
    return exceptions is not None and isinstance(
        exc, exceptions.ConnectionError | exceptions.TimeoutError
    )


def is_known(exc: BaseException) -> bool:
    """Whether ``exc`` is an error the CLI reports in one line."""
    if isinstance(exc, FeatureStoreError) or _redis_unreachable(exc):
        return True
    feast_errors = sys.modules.get("feast.errors")
    if feast_errors is not None and isinstance(exc, feast_errors.FeastError):
        return True
    # A bad feature_store.yaml: Feast's config error is not a FeastError.
    repo_config = sys.modules.get("feast.repo_config")
    return repo_config is not None and isinstance(exc, repo_config.FeastConfigError)


def _refused_login(exc: BaseException) -> BaseException | None:
    """redis-py's ``AuthenticationError`` behind ``exc`` (itself, or what it was raised
    from: the library reports it as ``OnlineStoreUnavailableError``), if any."""
    exceptions = sys.modules.get("redis.exceptions")
    cause: BaseException | None = exc
    while exceptions is not None and cause is not None:
        if isinstance(cause, exceptions.AuthenticationError):
            return cause
        cause = cause.__cause__
    return None


def one_line(exc: BaseException) -> str:
    refused = _refused_login(exc)
    if refused is not None:
        return (
            f"Redis refused the login ({refused}); check the user and password of the Redis "
            "URL (FEATURESTORE_REDIS_URL, or online_store.redis_url in featurestore.yaml)"
        )
    if _redis_unreachable(exc):
        return f"cannot reach Redis ({exc}); is it running? try: featurestore redis start"
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())
