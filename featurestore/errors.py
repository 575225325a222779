"""Errors raised by the feature store library.

Every error the library raises on purpose derives from ``FeatureStoreError``;
callers (the CLI, the HTTP API) map these types to one clear line or to a 4xx
answer, and treat anything else as a bug.

    FeatureStoreError
    ├── ConfigError                 bad settings or a broken project layout
    ├── RedisServerError            the local redis-server cannot be found, started or reached
    ├── IngestionError              a feature job failed (SQL error, missing raw input)
    └── RequestError                a lookup or retrieval request is invalid
        ├── UnknownFeatureError       a feature (``view:feature``) the registry does not know
        ├── UnknownFeatureServiceError
        ├── DuplicateFeatureError     the same feature asked for twice
        ├── MissingJoinKeyError       an entity join key the features need is absent
        ├── EntityTypeError           an entity value of the wrong type
        ├── EntityTimestampError      an entity frame without a usable timestamp column
        ├── EntityColumnTypeError     an entity frame column of the wrong type
        └── InvalidRequestError       anything else wrong with the request's shape
"""

from __future__ import annotations

from collections.abc import Sequence


class FeatureStoreError(Exception):
    """Root of every error the library raises on purpose."""

    code = "feature_store_error"


class ConfigError(FeatureStoreError):
    code = "config_error"


class RedisServerError(FeatureStoreError):
    code = "redis_error"


class IngestionError(FeatureStoreError):
    code = "ingestion_error"

    def __init__(self, job: str, message: str) -> None:
        self.job = job
        self.message = message
        super().__init__(f"{job}: {message}")


class RequestError(FeatureStoreError):
    code = "invalid_request"


class UnknownFeatureError(RequestError):
    code = "unknown_feature"

    def __init__(self, features: Sequence[str], known_views: Sequence[str] = ()) -> None:
        self.features = list(features)
        self.known_views = list(known_views)
        names = ", ".join(repr(f) for f in self.features)
        super().__init__(f"unknown feature(s): {names}")


class UnknownFeatureServiceError(RequestError):
    code = "unknown_feature_service"

    def __init__(self, name: str, known: Sequence[str] = ()) -> None:
        self.name = name
        self.known = sorted(known)
        hint = f"; known feature services: {', '.join(self.known)}" if self.known else ""
        super().__init__(f"unknown feature service {name!r}{hint}")


class DuplicateFeatureError(RequestError):
    code = "duplicate_feature"

    def __init__(self, features: Sequence[str]) -> None:
        self.features = list(features)
        super().__init__(f"feature(s) requested more than once: {', '.join(self.features)}")


class MissingJoinKeyError(RequestError):
    code = "missing_join_key"

    def __init__(self, join_keys: Sequence[str]) -> None:
        self.join_keys = list(join_keys)
        super().__init__(f"missing join key(s): {', '.join(self.join_keys)}")


class EntityTypeError(RequestError):
    code = "wrong_entity_type"

    def __init__(self, join_key: str, expected: str, value: object) -> None:
        self.join_key = join_key
        self.expected = expected
        self.value = value
        super().__init__(
            f"entity {join_key!r} expects {expected} values, got {value!r} ({type(value).__name__})"
        )


class InvalidRequestError(RequestError):
    code = "invalid_request"


class EntityTimestampError(RequestError):
    """The entity frame has no timestamp column, or more than one candidate."""

    code = "missing_timestamp_column"

    def __init__(self, column: str, columns: Sequence[str]) -> None:
        self.column = column
        self.columns = list(columns)
        super().__init__(
            f"the entity frame has no timestamp column {column!r} "
            f"(columns: {', '.join(self.columns) or 'none'})"
        )


class EntityColumnTypeError(RequestError):
    """An entity frame column whose type cannot be joined or compared."""

    code = "wrong_column_type"

    def __init__(self, column: str, expected: str, actual: str) -> None:
        self.column = column
        self.expected = expected
        self.actual = actual
        super().__init__(f"entity frame column {column!r} has type {actual}; expected {expected}")
