"""What an apply would change in the registry, and which models it would break.

``plan(current, desired)`` compares two snapshots of definitions: the registry as it
is, and the repo's Python definitions. Adding anything is safe. Removing or retyping
a feature that a feature service in the registry uses is breaking: the model behind
that service would lose its input. To retire such a feature, first apply the feature
services without it, then remove it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from feast import FeatureService, FeatureView

ChangeKind = Literal["add", "remove", "retype", "change"]


@dataclass(frozen=True)
class Snapshot:
    """The parts of the definitions that models depend on."""

    views: dict[str, dict[str, str]]  # view -> feature -> dtype
    services: dict[str, dict[str, list[str]]]  # service -> view -> features
    entities: dict[str, str]  # entity -> join key

    @classmethod
    def of(
        cls,
        views: Iterable[FeatureView],
        services: Iterable[FeatureService],
        entities: Iterable[object] = (),
    ) -> Snapshot:
        return cls(
            views={v.name: {f.name: str(f.dtype) for f in v.features} for v in views},
            services={
                s.name: {p.name: [f.name for f in p.features] for p in s.feature_view_projections}
                for s in services
            },
            entities={getattr(e, "name", ""): getattr(e, "join_key", "") for e in entities},
        )


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    object: Literal["entity", "feature_view", "feature", "feature_service"]
    name: str
    detail: str = ""
    affected_services: tuple[str, ...] = ()
    breaking: bool = False


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    @property
    def affected_services(self) -> list[str]:
        return sorted({s for c in self.changes for s in c.affected_services})


def _users(snapshot: Snapshot) -> dict[str, list[str]]:
    """``view:feature`` -> the feature services that use it."""
    users: dict[str, list[str]] = {}
    for service, views in snapshot.services.items():
        for view, features in views.items():
            for feature in features:
                users.setdefault(f"{view}:{feature}", []).append(service)
    return users


def plan(current: Snapshot, desired: Snapshot) -> Plan:
    result = Plan()
    users = _users(current)
    add = result.changes.append
    for name in sorted(desired.entities.keys() - current.entities.keys()):
        add(Change("add", "entity", name))
    for name in sorted(current.entities.keys() - desired.entities.keys()):
        add(Change("remove", "entity", name))
    for view in sorted(current.views.keys() | desired.views.keys()):
        old, new = current.views.get(view), desired.views.get(view)
        if old is None:
            add(Change("add", "feature_view", view, f"{len(new or {})} features"))
            continue
        if new is None:
            used = tuple(sorted({s for f in old for s in users.get(f"{view}:{f}", [])}))
            add(Change("remove", "feature_view", view, "", used, bool(used)))
            continue
        for feature in sorted(old.keys() | new.keys()):
            ref = f"{view}:{feature}"
            used = tuple(sorted(users.get(ref, [])))
            if feature not in old:
                add(Change("add", "feature", ref, new[feature]))
            elif feature not in new:
                add(Change("remove", "feature", ref, old[feature], used, bool(used)))
            elif old[feature] != new[feature]:
                detail = f"{old[feature]} -> {new[feature]}"
                add(Change("retype", "feature", ref, detail, used, bool(used)))
    for service in sorted(current.services.keys() | desired.services.keys()):
        old_s, new_s = current.services.get(service), desired.services.get(service)
        if old_s is None:
            add(Change("add", "feature_service", service, _count(new_s), (service,)))
        elif new_s is None:
            add(Change("remove", "feature_service", service, "", (service,)))
        elif old_s != new_s:
            add(Change("change", "feature_service", service, _diff(old_s, new_s), (service,)))
    return result


def _count(service: dict[str, list[str]] | None) -> str:
    return f"{sum(len(f) for f in (service or {}).values())} features"


def _diff(old: dict[str, list[str]], new: dict[str, list[str]]) -> str:
    before = {f"{v}:{f}" for v, fs in old.items() for f in fs}
    after = {f"{v}:{f}" for v, fs in new.items() for f in fs}
    parts = [f"+{r}" for r in sorted(after - before)] + [f"-{r}" for r in sorted(before - after)]
    return " ".join(parts)


def describe_breaking(result: Plan) -> list[str]:
    """One line per breaking change, naming the feature services it breaks."""
    lines = []
    for change in result.breaking:
        verb = {"remove": "removes", "retype": "retypes"}.get(change.kind, change.kind)
        what = f"{change.object.replace('_', ' ')} {change.name}"
        detail = f" ({change.detail})" if change.detail and change.kind == "retype" else ""
        lines.append(f"{verb} {what}{detail}, used by {', '.join(change.affected_services)}")
    return lines
