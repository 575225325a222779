"""Request and response models of the HTTP API (Feast feature-server format)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class GetOnlineFeaturesRequest(BaseModel):
    """The body of ``POST /get-online-features``, as Feast's feature server takes it."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "feature_service": "departure_delay_model",
                    "entities": {"origin": ["JFK"], "carrier": ["B6"], "tailnum": ["N657JB"]},
                },
                {
                    "features": ["weather_hourly:temp", "carrier_daily:cancel_rate_7d"],
                    "entities": {"origin": ["JFK", "EWR"], "carrier": ["B6", "UA"]},
                    "full_feature_names": True,
                },
            ]
        },
    )

    entities: dict[str, list[Any]]
    features: list[str] = Field(default_factory=list)
    feature_service: str | None = None
    full_feature_names: bool = False


class FeatureVector(BaseModel):
    values: list[Any]
    statuses: list[str]
    event_timestamps: list[str] = Field(default_factory=list)


class Metadata(BaseModel):
    feature_names: list[str]


class GetOnlineFeaturesResponse(BaseModel):
    """Column-major: one result per name in ``metadata.feature_names``, entity columns first."""

    metadata: Metadata
    results: list[FeatureVector]


class ErrorResponse(BaseModel):
    detail: str
    code: str
