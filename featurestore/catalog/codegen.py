"""A new model's feature service, written from catalog references.

``feature_service_module`` turns ``view:feature`` references that the catalog knows into
a Python file of Feast definitions for ``feature_repo/``; the SQL jobs and feature views
stay as they are. It assumes the repo's layout: feature views are module-level names
in ``feature_views.py``, named like the views.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence

from featurestore.catalog.build import Catalog
from featurestore.errors import InvalidRequestError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def feature_service_module(
    catalog: Catalog,
    name: str,
    refs: Sequence[str],
    *,
    description: str = "",
    owner: str = "",
    tags: dict[str, str] | None = None,
) -> str:
    """Python source defining feature service ``name`` over existing features ``refs``."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise InvalidRequestError(f"feature service name {name!r} must be a lower_snake_case name")
    if name in catalog.services:
        raise InvalidRequestError(f"feature service {name!r} already exists")
    if not refs:
        raise InvalidRequestError("a feature service needs at least one feature")
    by_view: dict[str, list[str]] = {}
    for ref in refs:
        feature = catalog.feature(ref)  # raises UnknownFeatureError for unknown refs
        if feature.name in by_view.setdefault(feature.view, []):
            raise InvalidRequestError(f"feature {ref} is listed twice")
        by_view[feature.view].append(feature.name)
    views = sorted(by_view)
    lines = [
        f'"""Feature service {name}: built from existing features found in the catalog."""',
        "",
        "from feast import FeatureService",
        "",
        f"from feature_views import {', '.join(views)}",
        "",
        f"{name} = FeatureService(",
        f"    name={name!r},",
        "    features=[",
    ]
    for view in views:
        lines.append(f"        {view}[{by_view[view]!r}],")
    lines += [
        "    ],",
        f"    description={description!r},",
        f"    owner={owner!r},",
        f"    tags={dict(tags or {})!r},",
        ")",
        "",
    ]
    return "\n".join(lines)
