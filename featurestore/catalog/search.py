"""Finding features by name, tag, entity or description."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from featurestore.catalog.model import FeatureInfo


@dataclass(frozen=True)
class SearchHit:
    feature: FeatureInfo
    score: int
    matched: list[str]


def _matches(feature: FeatureInfo, word: str) -> tuple[int, list[str]]:
    """Score one query word against one feature; higher is a better match."""
    word = word.lower()
    fields: list[tuple[str, int, str]] = [
        ("name", 8 if feature.name.lower() == word else 5, feature.name),
        ("view", 3, feature.view),
        ("entity", 3, " ".join(feature.entities + feature.join_keys)),
        ("tag", 3, " ".join(f"{k}:{v}" for k, v in feature.tags.items())),
        ("description", 2, feature.description),
        ("owner", 1, feature.owner),
        ("model", 1, " ".join(feature.used_by)),
    ]
    score, matched = 0, []
    for label, weight, text in fields:
        if word in text.lower():
            score += weight
            matched.append(label)
    return score, matched


def search(
    features: Iterable[FeatureInfo],
    text: str = "",
    *,
    tag: str | None = None,
    entity: str | None = None,
) -> list[SearchHit]:
    """Features matching every word of ``text``, and the ``tag`` (``key`` or ``key:value``)
    and ``entity`` (entity name or join key) filters; best matches first."""
    words = text.split()
    hits = []
    for feature in features:
        if entity and entity not in feature.entities and entity not in feature.join_keys:
            continue
        if tag:
            key, _, value = tag.partition(":")
            view_tags = feature.tags
            if key not in view_tags or (value and view_tags[key] != value):
                continue
        total, matched = 0, []
        for word in words:
            score, fields = _matches(feature, word)
            if not score:
                break
            total += score
            matched += [f for f in fields if f not in matched]
        else:
            hits.append(SearchHit(feature, total, matched))
    return sorted(hits, key=lambda h: (-h.score, h.feature.ref))
