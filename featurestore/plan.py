"""What an apply would change in the registry, and which models it would break.

``plan(current, desired)`` compares two snapshots of definitions: the registry as it
is, and the repo's Python definitions. Adding anything is safe. Removing or retyping
a feature that a feature service in the registry uses is breaking: the model behind
that service would lose its input. To retire such a feature, first apply the feature
services without it, then remove it.

Complete by construction: a snapshot keeps, besides the shapes the breaking rules
read, every object's spec proto as Feast's apply writes it (``to_proto().spec``,
a data source's whole proto), without the registry's own metadata (project, created
and updated timestamps, materialization intervals). Two specs that differ are a
change, whatever field differs: known fields get a readable detail (``ttl 3:00:00 ->
4:00:00``, ``tags +team=x``, ``source path '/a' -> '/b'``), any other field is named
(``spec changed (mode)``). Feast's ``__dummy`` entity, which it adds for entityless
views, is never listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from feast.feature_view import DUMMY_ENTITY_ID, DUMMY_ENTITY_NAME, FeatureView
from feast.infra.registry.registry import FeastObjectType
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

ChangeKind = Literal["add", "remove", "retype", "change"]
ObjectKind = Literal[
    "entity",
    "data_source",
    "feature_view",
    "feature",
    "feature_service",
    "on_demand_feature_view",
    "stream_feature_view",
    "label_view",
    "permission",
]

# Every kind of object Feast's apply writes (all but the project itself), in plan order.
_KINDS: dict[FeastObjectType, ObjectKind] = {
    FeastObjectType.ENTITY: "entity",
    FeastObjectType.DATA_SOURCE: "data_source",
    FeastObjectType.FEATURE_VIEW: "feature_view",
    FeastObjectType.ON_DEMAND_FEATURE_VIEW: "on_demand_feature_view",
    FeastObjectType.STREAM_FEATURE_VIEW: "stream_feature_view",
    FeastObjectType.LABEL_VIEW: "label_view",
    FeastObjectType.FEATURE_SERVICE: "feature_service",
    FeastObjectType.PERMISSION: "permission",
}
# Kinds the breaking rules do not read: the plan compares their specs alone.
_OTHER_KINDS: tuple[ObjectKind, ...] = (
    "on_demand_feature_view",
    "stream_feature_view",
    "label_view",
    "permission",
)


@dataclass(frozen=True)
class Snapshot:
    """The parts of the definitions that models depend on, and every spec apply writes."""

    views: dict[str, dict[str, str]]  # view -> feature -> dtype
    services: dict[str, dict[str, list[str]]]  # service -> view -> features
    entities: dict[str, str]  # entity -> join key
    specs: dict[str, dict[str, Message]] = field(default_factory=dict)  # kind -> name -> spec

    @classmethod
    def of(cls, objects: Mapping[FeastObjectType, Iterable[Any]]) -> Snapshot:
        """From Feast objects by type, as ``FeastObjectType.get_objects_from_registry``
        or ``get_objects_from_repo_contents`` give them."""
        kept = {
            kind: [o for o in objects.get(t, ()) if o.name and o.name != DUMMY_ENTITY_NAME]
            for t, kind in _KINDS.items()
        }
        views: list[FeatureView] = kept["feature_view"]
        return cls(
            views={v.name: {f.name: str(f.dtype) for f in v.features} for v in views},
            services={
                s.name: {p.name: [f.name for f in p.features] for p in s.feature_view_projections}
                for s in kept["feature_service"]
            },
            entities={e.name: e.join_key for e in kept["entity"]},
            specs={kind: {o.name: _spec(o) for o in objs} for kind, objs in kept.items()},
        )


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    object: ObjectKind
    name: str
    detail: str = ""
    affected_services: tuple[str, ...] = ()
    breaking: bool = False


_Add = Callable[[Change], None]


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

    def changed(kind: ObjectKind, name: str, skip: frozenset[str] = frozenset()) -> str:
        """The readable difference of the object's two specs ("" when equal)."""
        return _describe(
            current.specs.get(kind, {}).get(name), desired.specs.get(kind, {}).get(name), skip
        )

    current_entities = current.entities.keys() - {DUMMY_ENTITY_NAME}
    desired_entities = desired.entities.keys() - {DUMMY_ENTITY_NAME}
    for name in sorted(desired_entities - current_entities):
        add(Change("add", "entity", name))
    for name in sorted(current_entities - desired_entities):
        add(Change("remove", "entity", name))
    for name in sorted(current_entities & desired_entities):
        if detail := changed("entity", name):
            add(Change("change", "entity", name, detail))
    _spec_only(current, desired, "data_source", add)
    for view in sorted(current.views.keys() | desired.views.keys()):
        old, new = current.views.get(view), desired.views.get(view)
        if old is None:
            add(Change("add", "feature_view", view, f"{len(new or {})} features"))
            continue
        used_view = tuple(sorted({s for f in old for s in users.get(f"{view}:{f}", [])}))
        if new is None:
            add(Change("remove", "feature_view", view, "", used_view, bool(used_view)))
            continue
        if detail := changed("feature_view", view, frozenset({"features"})):
            add(Change("change", "feature_view", view, detail, used_view))
        _feature_changes(current, desired, view, users, add)
    for service in sorted(current.services.keys() | desired.services.keys()):
        old_s, new_s = current.services.get(service), desired.services.get(service)
        if old_s is None:
            add(Change("add", "feature_service", service, _count(new_s), (service,)))
        elif new_s is None:
            add(Change("remove", "feature_service", service, "", (service,)))
        else:
            parts = [_diff(old_s, new_s)] if old_s != new_s else []
            parts.append(changed("feature_service", service, frozenset({"features"})))
            parts.append(_projections(current, desired, service))
            if detail := "; ".join(p for p in parts if p):
                add(Change("change", "feature_service", service, detail, (service,)))
    for kind in _OTHER_KINDS:
        _spec_only(current, desired, kind, add)
    return result


def _feature_changes(
    current: Snapshot, desired: Snapshot, view: str, users: dict[str, list[str]], add: _Add
) -> None:
    """Features added, removed, retyped or otherwise changed in a view both snapshots hold."""
    old, new = current.views[view], desired.views[view]
    old_specs, new_specs = _features(current, view), _features(desired, view)
    for feature in sorted(old.keys() | new.keys()):
        ref = f"{view}:{feature}"
        used = tuple(sorted(users.get(ref, [])))
        if feature not in old:
            add(Change("add", "feature", ref, new[feature]))
        elif feature not in new:
            add(Change("remove", "feature", ref, old[feature], used, bool(used)))
        else:
            if old[feature] != new[feature]:
                detail = f"{old[feature]} -> {new[feature]}"
                add(Change("retype", "feature", ref, detail, used, bool(used)))
            detail = _describe(old_specs.get(feature), new_specs.get(feature), _DTYPE)
            if detail:
                add(Change("change", "feature", ref, detail, used))
    if old.keys() == new.keys() and list(old_specs) != list(new_specs):
        used_view = tuple(sorted({s for f in old for s in users.get(f"{view}:{f}", [])}))
        add(Change("change", "feature_view", view, "feature order changed", used_view))


def _spec_only(current: Snapshot, desired: Snapshot, kind: ObjectKind, add: _Add) -> None:
    """Additions, removals and changes of a kind the breaking rules do not read."""
    old, new = current.specs.get(kind, {}), desired.specs.get(kind, {})
    for name in sorted(new.keys() - old.keys()):
        add(Change("add", kind, name))
    for name in sorted(old.keys() - new.keys()):
        add(Change("remove", kind, name))
    for name in sorted(old.keys() & new.keys()):
        if old[name] != new[name]:
            add(Change("change", kind, name, _describe(old[name], new[name])))


def _projections(current: Snapshot, desired: Snapshot, service: str) -> str:
    """The service's copies of its views (source, feature descriptions...) that changed
    while it selects the same features."""
    old = {p.feature_view_name: p for p in _field(current, "feature_service", service, "features")}
    new = {p.feature_view_name: p for p in _field(desired, "feature_service", service, "features")}
    if list(old) != list(new) and old.keys() == new.keys():
        return "projection order changed"
    changed = [view for view in old.keys() & new.keys() if old[view] != new[view]]
    return f"projection of {', '.join(sorted(changed))} changed" if changed else ""


def _features(snapshot: Snapshot, view: str) -> dict[str, Message]:
    return {f.name: f for f in _field(snapshot, "feature_view", view, "features")}


def _field(snapshot: Snapshot, kind: ObjectKind, name: str, field_name: str) -> Any:
    spec = snapshot.specs.get(kind, {}).get(name)
    return getattr(spec, field_name) if spec is not None else []


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


# --- specs: what apply writes, and how two of them differ ------------------------------


def _spec(obj: Any) -> Message:
    """The object's spec as apply writes it, without the registry's metadata."""
    proto = obj.to_proto()
    spec: Message = proto.spec if "spec" in proto.DESCRIPTOR.fields_by_name else proto
    _strip(spec)
    return spec


def _strip(message: Message) -> None:
    """Clear, at every depth, what the registry sets rather than the definitions:
    the project, and a data source's ``meta`` (created and updated timestamps)."""
    fields = message.DESCRIPTOR.fields_by_name
    if "project" in fields and fields["project"].type == FieldDescriptor.TYPE_STRING:
        message.ClearField("project")
    if message.DESCRIPTOR.full_name == "feast.core.DataSource":
        message.ClearField("meta")
    for descriptor, value in message.ListFields():
        if descriptor.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if _is_map(descriptor):
            value_field = descriptor.message_type.fields_by_name["value"]
            if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                for item in value.values():
                    _strip(item)
        elif descriptor.is_repeated:
            for item in value:
                _strip(item)
        else:
            _strip(value)


# Readable names for nested fields: ``batch_source.file_options.uri`` reads "source path".
_LABELS = {"batch_source": "source", "stream_source": "stream source", "uri": "path"}


_DTYPE = frozenset({"value_type"})  # a feature's dtype: a retype, judged by the breaking rules


def _describe(old: Message | None, new: Message | None, skip: frozenset[str] = frozenset()) -> str:
    """The readable difference of two specs ("" when equal or either is missing)."""
    if old is None or new is None or old == new:
        return ""
    parts: list[str] = []
    unknown: list[str] = []
    _compare(old, new, "", skip, parts, unknown)
    if unknown:
        parts.append(f"spec changed ({', '.join(unknown)})")
    return "; ".join(parts)


def _compare(
    old: Message,
    new: Message,
    prefix: str,
    skip: frozenset[str],
    parts: list[str],
    unknown: list[str],
) -> None:
    for descriptor in old.DESCRIPTOR.fields:
        name = descriptor.name
        a, b = getattr(old, name), getattr(new, name)
        if name in skip or a == b:
            continue
        label = _LABELS.get(name, name)
        if name.endswith("_options") and descriptor.type == FieldDescriptor.TYPE_MESSAGE:
            label = ""  # a data source's file_options etc.: name their fields directly
        where = " ".join(p for p in (prefix, label) if p)
        before = len(parts)
        if _is_map(descriptor):
            parts.append(f"{where} {_map_diff(descriptor, a, b)}")
        elif descriptor.is_repeated:
            if descriptor.type != FieldDescriptor.TYPE_MESSAGE:
                _list_diff(where, list(a), list(b), parts)
            elif "name" in descriptor.message_type.fields_by_name:
                _list_diff(where, [m.name for m in a], [m.name for m in b], parts)
                kept = {m.name for m in b}
                edited = sorted({m.name for m in a if m.name in kept and m not in b})
                if edited:
                    parts.append(f"{where} " + " ".join(f"~{n}" for n in edited))
        elif descriptor.type == FieldDescriptor.TYPE_MESSAGE:
            full_name = descriptor.message_type.full_name
            if full_name == "google.protobuf.Duration":
                parts.append(f"{where} {a.ToTimedelta()} -> {b.ToTimedelta()}")
            elif full_name == "google.protobuf.Timestamp":
                parts.append(f"{where} {a.ToDatetime()} -> {b.ToDatetime()}")
            else:
                _compare(a, b, where, frozenset(), parts, unknown)
                continue
        else:
            parts.append(f"{where} {_scalar(descriptor, a)} -> {_scalar(descriptor, b)}")
        if len(parts) == before:
            unknown.append(where.replace(" ", "."))


def _is_map(descriptor: FieldDescriptor) -> bool:
    message = descriptor.message_type
    return message is not None and message.GetOptions().map_entry


def _map_diff(descriptor: FieldDescriptor, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    text = descriptor.message_type.fields_by_name["value"].type != FieldDescriptor.TYPE_MESSAGE
    parts = [f"+{k}={new[k]}" if text else f"+{k}" for k in sorted(new.keys() - old.keys())]
    parts += [f"-{k}" for k in sorted(old.keys() - new.keys())]
    for key in sorted(old.keys() & new.keys()):
        if old[key] != new[key]:
            parts.append(f"~{key}={old[key]}->{new[key]}" if text else f"~{key}")
    return " ".join(parts)


# Feast's placeholder entity of entityless views, and its join key: never shown.
_DUMMY = frozenset({DUMMY_ENTITY_NAME, DUMMY_ENTITY_ID})


def _list_diff(where: str, old: list[Any], new: list[Any], parts: list[str]) -> None:
    names = [f"+{n}" for n in new if n not in old and n not in _DUMMY]
    names += [f"-{n}" for n in old if n not in new and n not in _DUMMY]
    if names:
        parts.append(f"{where} {' '.join(names)}")


def _scalar(descriptor: FieldDescriptor, value: Any) -> str:
    if descriptor.type == FieldDescriptor.TYPE_ENUM:
        number = descriptor.enum_type.values_by_number.get(value)
        return number.name if number is not None else str(value)
    if descriptor.type == FieldDescriptor.TYPE_STRING:
        return repr(value)
    return str(value)
