"""The monitor's settings: the project file's ``monitor:`` section and job headers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from featurestore.errors import ConfigError, JobDefinitionError
from featurestore.job_spec import parse_job
from featurestore.monitor.config import DriftRule, MonitorConfig, parse_duration, parse_monitor

HEADER = """-- name: {name}
-- entities: k
-- timestamp: ts
-- column: k VARCHAR
-- column: ts TIMESTAMPTZ
-- column: x DOUBLE
-- column: c VARCHAR
{extra}
SELECT 'a' AS k, now() AS ts, 1.0 AS x, 'u' AS c
"""


def _job(tmp_path: Path, extra: str, name: str = "t") -> Path:
    path = tmp_path / f"{name}.sql"
    path.write_text(HEADER.format(name=name, extra=extra))
    return path


def test_defaults_follow_the_anchors() -> None:
    rule = MonitorConfig().drift_rule("t", "x", "numeric")
    assert rule.resolve("numeric", 5_000) == ("wasserstein", 0.1)
    assert rule.resolve("numeric", 1_000) == ("ks", 0.05)
    assert rule.resolve("categorical", 5_000) == ("jensenshannon", 0.1)
    assert rule.resolve("categorical", 10) == ("chisquare", 0.05)
    assert DriftRule("psi").resolve("numeric", 10) == ("psi", 0.2)


def test_the_most_specific_setting_wins(tmp_path: Path) -> None:
    config = parse_monitor(
        {
            "drift": {
                "numeric": {"method": "psi", "threshold": 0.3},
                "features": {"t.c": {"method": "chisquare"}, "y": {"threshold": 0.5}},
            },
            "freshness": {"v": "2h"},
            "serving_log": {"sample_rate": 0.01, "max_mb": 1},
        },
        "featurestore.yaml",
    )
    job = parse_job(_job(tmp_path, "-- drift: x ks 0.01\n-- freshness: 26h"))
    assert job.drift == {"x": DriftRule("ks", 0.01)}
    assert job.freshness == timedelta(hours=26)
    assert config.drift_rule("t", "x", "numeric", job.drift) == DriftRule("ks", 0.01)
    assert config.drift_rule("t", "c", "categorical", job.drift) == DriftRule("chisquare")
    assert config.drift_rule("u", "y", "numeric") == DriftRule("auto", 0.5)
    assert config.drift_rule("t", "z", "numeric") == DriftRule("psi", 0.3)
    assert config.freshness == {"v": timedelta(hours=2)}
    assert config.serving_log.sample_rate == 0.01
    assert config.serving_log.max_bytes == 1024 * 1024


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"drfit": {}}, "unknown key(s) drfit"),
        ({"drift": {"numeric": {"method": "kl"}}}, "unknown drift method 'kl'"),
        ({"drift": {"numeric": {"threshold": "high"}}}, "threshold 'high' is not a number"),
        ({"drift": {"numeric": {"threshold": 0}}}, "threshold must be above 0"),
        ({"freshness": {"v": "soon"}}, "'soon' is not a duration"),
        ({"serving_log": {"sample_rate": 2}}, "sample_rate must be in 0..1"),
        ("yes", "'monitor' must be a mapping"),
    ],
)
def test_bad_settings_are_one_clear_error(spec: object, message: str) -> None:
    with pytest.raises(ConfigError, match=r"featurestore\.yaml") as caught:
        parse_monitor(spec, "featurestore.yaml")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("-- drift: x", "expected COLUMN METHOD [THRESHOLD]"),
        ("-- drift: x kl", "unknown drift method 'kl'"),
        ("-- drift: nope psi", "drift names undeclared column(s): nope"),
        ("-- freshness: tomorrow", "is not a duration"),
    ],
)
def test_bad_header_lines_name_the_file(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(JobDefinitionError) as caught:
        parse_job(_job(tmp_path, extra))
    assert message in str(caught.value)
    assert "t.sql" in str(caught.value)


def test_durations() -> None:
    assert parse_duration("90s", "x") == timedelta(seconds=90)
    assert parse_duration("1.5d", "x") == timedelta(hours=36)
    assert parse_duration(60, "x") == timedelta(minutes=1)
    with pytest.raises(ConfigError):
        parse_duration(True, "x")
