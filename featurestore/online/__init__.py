"""Online feature lookups straight from Feast's Redis layout, in Feast's wire format.

registry   RegistrySnapshot / RegistryCache: what the registry says, refreshed in the background
plan       request -> read plan (columns in request order, views grouped by join keys)
codec      Feast's Value / Timestamp bytes -> JSON values, in bulk
lookup     OnlineLookup (blocking) and AsyncOnlineLookup: one pipelined round trip
resp       the multiplexed asyncio Redis client the lookups share
cluster    ClusterRespClient: the same on a Redis Cluster, one pipeline per master
sentinel   SentinelRespClient: the same on the master the sentinels name
examples   example lookups from the project's registry (OpenAPI, demo lookup)
"""

from featurestore.online.cluster import ClusterRespClient
from featurestore.online.lookup import (
    AsyncOnlineLookup,
    OnlineLookup,
    Prepared,
    assemble,
    prepare,
)
from featurestore.online.plan import Plan, make_plan, validate_entities
from featurestore.online.registry import RegistryCache, RegistrySnapshot, build_snapshot

__all__ = [
    "AsyncOnlineLookup",
    "ClusterRespClient",
    "OnlineLookup",
    "Plan",
    "Prepared",
    "RegistryCache",
    "RegistrySnapshot",
    "assemble",
    "build_snapshot",
    "make_plan",
    "prepare",
    "validate_entities",
]
