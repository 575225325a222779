"""The monitor's windows of event time: what a drift report compares.

A window is written as one of:

    2013-06-01..2013-07-01        a date (or ISO time) range; the end is exclusive
    last:7d                       the last 7 days (s, m, h, d, w) up to the newest event
    previous                      the period of the same length just before the other window
    training:PATH                 a saved training set's window: PATH is its Parquet file or
                                  its manifest (``NAME.manifest.json``); the manifest also
                                  names the features the model was trained on

By default the current window is ``last:7d`` and the reference ``previous``. Times
without a zone are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from featurestore.errors import ConfigError, WindowSpecError
from featurestore.monitor.config import parse_duration
from featurestore.monitor.model import Window

DEFAULT_CURRENT = "last:7d"
DEFAULT_REFERENCE = "previous"
_TICK = timedelta(microseconds=1)  # "up to the newest event" includes it


@dataclass(frozen=True)
class Windows:
    """The reference and current windows, and the features a training-set reference
    names (``None``: every feature of the service)."""

    reference: Window
    current: Window
    trained_features: list[str] | None = None


def parse_time(text: str, what: str) -> datetime:
    """An ISO date or time; a naive one is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise WindowSpecError(
            f"{what}: {text!r} is not a date or time like 2013-06-01 or 2013-06-01T12:00"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_window(spec: str, newest: datetime | None, *, what: str = "window") -> Window:
    """A ``START..END`` or ``last:DURATION`` window (``newest``: the newest event time,
    which ``last:`` counts back from)."""
    text = spec.strip()
    if ".." in text:
        first, _, second = text.partition("..")
        start, end = parse_time(first, what), parse_time(second, what)
        if end <= start:
            raise WindowSpecError(f"{what}: {spec!r} ends before it starts")
        return Window(start, end, f"{_show(start)}..{_show(end)}")
    if text.startswith("last:"):
        try:
            length = parse_duration(text[5:], what)
        except ConfigError as exc:
            raise WindowSpecError(str(exc)) from None
        if newest is None:
            raise WindowSpecError(f"{what}: {spec!r} counts back from the newest event, and "
                                  f"the feature tables hold none")  # fmt: skip
        end = newest + _TICK
        return Window(end - length, end, f"last {text[5:]} to {_show(newest)}")
    raise WindowSpecError(
        f"{what}: cannot read {spec!r}; expected START..END, last:7d, previous or training:PATH"
    )


def resolve_windows(reference: str | None, current: str | None, newest: datetime | None) -> Windows:
    """The two windows from their specs (``None``: the defaults)."""
    current_spec = (current or DEFAULT_CURRENT).strip()
    reference_spec = (reference or DEFAULT_REFERENCE).strip()
    if current_spec == "previous":
        raise WindowSpecError("current: 'previous' only makes sense for the reference window")
    if current_spec.startswith("training:"):
        current_window, _ = training_window(current_spec[9:], "current")
    else:
        current_window = parse_window(current_spec, newest, what="current")
    trained: list[str] | None = None
    if reference_spec == "previous":
        length = current_window.end - current_window.start
        start = current_window.start - length
        reference_window = Window(
            start,
            current_window.start,
            f"previous period {_show(start)}..{_show(current_window.start)}",
        )
    elif reference_spec.startswith("training:"):
        reference_window, trained = training_window(reference_spec[9:], "reference")
    else:
        reference_window = parse_window(reference_spec, newest, what="reference")
    return Windows(reference_window, current_window, trained)


def training_window(path_text: str, what: str) -> tuple[Window, list[str]]:
    """A training set's window and features, from its manifest."""
    from featurestore.offline.manifest import MANIFEST_SUFFIX, Manifest, manifest_path

    path = Path(path_text.strip()).expanduser()
    manifest_file = path if path.name.endswith(MANIFEST_SUFFIX) else manifest_path(path)
    if not manifest_file.is_file():
        raise WindowSpecError(
            f"{what}: no training-set manifest at {manifest_file} (featurestore training build "
            f"--output writes one beside the Parquet file)"
        )
    try:
        manifest = Manifest.read(manifest_file)
    except (ValueError, TypeError, KeyError) as exc:
        raise WindowSpecError(
            f"{what}: {manifest_file} is not a training-set manifest: {exc}"
        ) from None
    if not manifest.window_start or not manifest.window_end:
        raise WindowSpecError(
            f"{what}: the training set {manifest_file} is empty: it has no window"
        )
    start = parse_time(manifest.window_start, what)
    end = parse_time(manifest.window_end, what) + _TICK
    window = Window(start, end, f"training set {path.name} ({_show(start)}..{_show(end)})")
    return window, list(manifest.features)


def _show(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    if moment == moment.replace(hour=0, minute=0, second=0, microsecond=0):
        return moment.date().isoformat()
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")
