from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from featurestore.errors import WindowSpecError
from featurestore.monitor.windows import parse_window, resolve_windows

NEWEST = datetime(2013, 12, 31, 23, 0, tzinfo=UTC)


def test_a_date_range_is_half_open_and_utc() -> None:
    window = parse_window("2013-06-01..2013-07-01", NEWEST)
    assert window.start == datetime(2013, 6, 1, tzinfo=UTC)
    assert window.end == datetime(2013, 7, 1, tzinfo=UTC)
    assert window.label == "2013-06-01..2013-07-01"


def test_last_counts_back_from_the_newest_event_and_includes_it() -> None:
    window = parse_window("last:7d", NEWEST)
    assert window.end == NEWEST + timedelta(microseconds=1)
    assert window.end - window.start == timedelta(days=7)


def test_the_defaults_are_the_last_week_against_the_one_before() -> None:
    windows = resolve_windows(None, None, NEWEST)
    assert windows.current.end - windows.current.start == timedelta(days=7)
    assert windows.reference.end == windows.current.start
    assert windows.reference.end - windows.reference.start == timedelta(days=7)
    assert windows.trained_features is None


def test_a_training_set_names_its_window_and_features(tmp_path: Path) -> None:
    manifest = tmp_path / "train.manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "feature_service": "m", "project": "p", "features": ["v:a", "v:b"],
                "label_sql": "x", "window_start": "2013-01-01T00:00:00+00:00",
                "window_end": "2013-03-31T00:00:00+00:00", "row_count": 3,
                "definitions_sha256": "0", "output": "train.parquet", "created_at": "now",
            }
        )
    )  # fmt: skip
    windows = resolve_windows(f"training:{tmp_path / 'train.parquet'}", "last:30d", NEWEST)
    assert windows.reference.start == datetime(2013, 1, 1, tzinfo=UTC)
    assert windows.reference.end == datetime(2013, 3, 31, tzinfo=UTC) + timedelta(microseconds=1)
    assert windows.trained_features == ["v:a", "v:b"]
    assert windows.reference.label.startswith("training set train.parquet")


@pytest.mark.parametrize(
    ("reference", "current", "message"),
    [
        (None, "2013-07-01..2013-06-01", "current: '2013-07-01..2013-06-01' ends before it starts"),
        (None, "yesterday", "current: cannot read 'yesterday'; expected START..END, last:7d"),
        ("2013-13-01..2013-14-01", None, "reference: '2013-13-01' is not a date or time"),
        (None, "last:7x", "current: '7x' is not a duration"),
        (None, "previous", "current: 'previous' only makes sense for the reference window"),
        ("training:/nowhere/t.parquet", None, "reference: no training-set manifest at /nowhere"),
    ],
)
def test_bad_windows_are_one_clear_line(
    reference: str | None, current: str | None, message: str
) -> None:
    with pytest.raises(WindowSpecError) as caught:
        resolve_windows(reference, current, NEWEST)
    assert str(caught.value).startswith(message)


def test_last_needs_events() -> None:
    with pytest.raises(WindowSpecError, match="the feature tables hold none"):
        resolve_windows(None, None, None)
