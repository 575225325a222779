"""Request and response models of the HTTP API (Feast feature-server format).

On the lookup routes these models document the API (OpenAPI; ``api.openapi`` fills in
examples from the project's registry); the bodies themselves are parsed with orjson and
checked by ``featurestore.online`` (faster than per-item pydantic validation, measured by
``bench/bench_serving.py``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """An ``openapi_extra`` documenting ``model`` as the JSON body of a route that reads
    its body itself (with the size limit) instead of through FastAPI."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


class GetOnlineFeaturesRequest(BaseModel):
    """The body of ``POST /get-online-features``, as Feast's feature server takes it."""

    model_config = ConfigDict(extra="ignore")

    entities: dict[str, list[Any]] = Field(
        description="One list of values per join key, all the same length."
    )
    features: list[str] | None = Field(
        None, description="'view:feature' references; or give feature_service."
    )
    feature_service: str | None = None
    full_feature_names: bool = Field(False, description="Name features 'view__feature'.")


class FeatureVector(BaseModel):
    values: list[Any]
    statuses: list[Literal["PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE"]]
    event_timestamps: list[str]


class Metadata(BaseModel):
    feature_names: list[str]


class GetOnlineFeaturesResponse(BaseModel):
    """Column-major: one result per name in ``metadata.feature_names``, entity columns first,
    then the features in the order requested."""

    metadata: Metadata
    results: list[FeatureVector]


class RecordsRequest(BaseModel):
    """The body of ``POST /feature-services/{name}/online``: entities as rows or columns."""

    entities: list[dict[str, Any]] | dict[str, list[Any]]
    full_feature_names: bool = False


class RecordsResponse(BaseModel):
    """Row-major: one record (name -> value) per entity, with the statuses beside it."""

    feature_service: str
    feature_names: list[str]
    records: list[dict[str, Any]]
    statuses: list[dict[str, str]]


class PushRequest(BaseModel):
    """Feast's ``/push`` body, plus ``on_bad_rows``."""

    push_source_name: str
    df: dict[str, list[Any]] = Field(description="One list of values per column.")
    to: Literal["online", "offline", "online_and_offline"] = "online"
    on_bad_rows: Literal["reject", "quarantine"] | None = Field(
        None,
        description="reject: 422 naming each bad row, nothing written; quarantine: write "
        "the good rows, keep the bad ones with their rule. Default: the push source's "
        "declared on_bad_rows (reject).",
    )
    allow_registry_cache: bool = True
    transform_on_write: bool = True


class WriteToOnlineStoreRequest(BaseModel):
    feature_view_name: str
    df: dict[str, list[Any]]
    on_bad_rows: Literal["reject", "quarantine"] | None = None
    allow_registry_cache: bool = True
    transform_on_write: bool = True


class WriteResponse(BaseModel):
    """What a write did: rows received, accepted, quarantined; per view online, written
    (newer than Redis held) or skipped; appended to the push log."""

    rows: int
    accepted: int
    quarantined: int
    online_written: int
    online_skipped: int
    logged: int


class ReadyResponse(BaseModel):
    ready: bool
    redis: str
    registry: str


class ErrorResponse(BaseModel):
    """Every error the API answers: exactly these two fields."""

    model_config = ConfigDict(extra="forbid")

    detail: str
    code: str
