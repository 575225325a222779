"""Materializing a Feast repo's views with clear errors for bad requests.

``FeatureStore.materialize`` reaches our engine through ``batch_engine`` in
``feature_store.yaml``; these wrappers check the request first (a window that ends
before it starts, unknown view names) so callers get one ``FeatureStoreError`` instead
of Feast's ``ValueError`` deep in a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from feast import FeatureStore

from featurestore.errors import UnknownFeatureViewError
from featurestore.materialize.engine import check_window


def _check_views(store: FeatureStore, views: Sequence[str] | None) -> list[str] | None:
    if not views:
        return None
    known = [fv.name for fv in store.list_feature_views()]
    unknown = [name for name in views if name not in known]
    if unknown:
        raise UnknownFeatureViewError(unknown, known)
    return list(views)


def materialize(
    store: FeatureStore, start: datetime, end: datetime, views: Sequence[str] | None = None
) -> None:
    """``feast materialize START END [--views ...]``."""
    check_window(start, end)
    store.materialize(start_date=start, end_date=end, feature_views=_check_views(store, views))


def materialize_incremental(
    store: FeatureStore, end: datetime, views: Sequence[str] | None = None
) -> None:
    """``feast materialize-incremental END``: each view from where it last ended."""
    store.materialize_incremental(end_date=end, feature_views=_check_views(store, views))
