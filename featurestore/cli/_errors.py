"""The errors the CLI reports as one line instead of a traceback."""

from __future__ import annotations

import redis
from feast.errors import FeastError

from featurestore.errors import FeatureStoreError

KNOWN_ERRORS: tuple[type[BaseException], ...] = (
    FeatureStoreError,
    FeastError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def one_line(exc: BaseException) -> str:
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return f"cannot reach Redis ({exc}); is it running? try: featurestore redis start"
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())
