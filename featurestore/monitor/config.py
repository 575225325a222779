"""What the monitor watches and when it raises: the ``monitor:`` section of the project
file and the ``drift:`` / ``freshness:`` lines of job headers.

    monitor:
      drift:
        numeric: {method: auto, threshold: 0.1}       # every numeric feature
        categorical: {method: auto}                    # every string or boolean feature
        features:                                      # one feature: TABLE.COLUMN or COLUMN
          flight_delays_daily.dep_delay_mean: {method: psi, threshold: 0.25}
      freshness:                                       # an objective per view: 90s, 15m, 2h, 1d, 1w
        weather_hourly: 2h
      serving_log:                                     # the API's sample of served vectors
        sample_rate: 0.01                              # 0 (the default) logs nothing
        max_mb: 256                                    # the oldest files go past this

A job header says the same for its own columns::

    -- drift: dep_delay_mean psi 0.25       (column, method, optional threshold)
    -- freshness: 26h                       (the objective of the views fed by the job)

The most specific setting wins: the project file's ``features:`` entry, then the job
header, then the project's ``numeric`` / ``categorical`` default, then the built-in one.

Methods and their built-in thresholds follow the tools teams compare us with:
``psi`` 0.2 (Hopsworks), ``jensenshannon`` 0.1, ``wasserstein`` 0.1 (normed by the
reference's standard deviation), ``ks`` and ``chisquare`` 0.05 (a p-value: drift when
below it). ``auto`` is Evidently's choice: KS (numeric) or chi-square (categorical) when
the reference has at most 1,000 rows, else normed Wasserstein or Jensen-Shannon.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from featurestore.errors import ConfigError

NUMERIC_METHODS = ("psi", "jensenshannon", "wasserstein", "ks")
CATEGORICAL_METHODS = ("psi", "jensenshannon", "chisquare")
METHODS = ("auto", *dict.fromkeys((*NUMERIC_METHODS, *CATEGORICAL_METHODS)))
P_VALUE_METHODS = ("ks", "chisquare")  # drift when the p-value is below the threshold
DEFAULT_THRESHOLDS = {"psi": 0.2, "jensenshannon": 0.1, "wasserstein": 0.1}
DEFAULT_THRESHOLDS |= {"ks": 0.05, "chisquare": 0.05}
SMALL_SAMPLE = 1_000  # auto: at most this many reference rows -> a statistical test

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_KEYS = {"drift", "freshness", "serving_log"}
_DRIFT_KEYS = {"numeric", "categorical", "features"}
_RULE_KEYS = {"method", "threshold"}
_LOG_KEYS = {"sample_rate", "max_mb"}


@dataclass(frozen=True)
class DriftRule:
    """How one feature's drift is scored: ``method`` (or ``auto``) and its threshold
    (``None``: the method's built-in one)."""

    method: str = "auto"
    threshold: float | None = None

    def resolve(self, kind: str, reference_rows: int) -> tuple[str, float]:
        """The method and threshold that apply to a ``numeric`` or ``categorical``
        feature whose reference has ``reference_rows`` rows."""
        method = self.method
        if method == "auto":
            small = reference_rows <= SMALL_SAMPLE
            if kind == "numeric":
                method = "ks" if small else "wasserstein"
            else:
                method = "chisquare" if small else "jensenshannon"
        auto_threshold = self.method == "auto" and method in P_VALUE_METHODS
        if self.threshold is None or auto_threshold:
            return method, DEFAULT_THRESHOLDS[method]
        return method, self.threshold


@dataclass(frozen=True)
class ServingLogConfig:
    sample_rate: float = 0.0
    max_bytes: int = 256 * 1024 * 1024


@dataclass(frozen=True)
class MonitorConfig:
    numeric: DriftRule = DriftRule()
    categorical: DriftRule = DriftRule()
    features: Mapping[str, DriftRule] = field(default_factory=dict)  # TABLE.COLUMN or COLUMN
    freshness: Mapping[str, timedelta] = field(default_factory=dict)  # by view
    serving_log: ServingLogConfig = ServingLogConfig()

    def drift_rule(
        self, table: str, column: str, kind: str, header: Mapping[str, DriftRule] | None = None
    ) -> DriftRule:
        """The rule for ``table.column`` (``kind`` numeric or categorical); ``header``
        is the job's own ``drift:`` lines by column."""
        for key in (f"{table}.{column}", column):
            if key in self.features:
                return self.features[key]
        if header and column in header:
            return header[column]
        return self.numeric if kind == "numeric" else self.categorical


def parse_duration(value: object, where: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``1d``, ``1w`` (or a number of seconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=float(value))
    match = _DURATION.match(str(value)) if isinstance(value, str) else None
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"{where}: {value!r} is not a duration like 90s, 15m, 2h, 1d or 1w")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_rule(spec: object, where: str) -> DriftRule:
    """``{method: psi, threshold: 0.25}`` (either key may be left out)."""
    if not isinstance(spec, Mapping) or set(spec) - _RULE_KEYS:
        raise ConfigError(f"{where}: expected {{method: ..., threshold: ...}}, got {spec!r}")
    return make_rule(spec.get("method", "auto"), spec.get("threshold"), where)


def make_rule(method: object, threshold: object, where: str) -> DriftRule:
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ConfigError(f"{where}: unknown drift method {method!r}; known: {', '.join(METHODS)}")
    if threshold is not None:
        try:
            threshold = float(threshold)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: threshold {threshold!r} is not a number") from None
        if not threshold > 0:
            raise ConfigError(f"{where}: threshold must be above 0, got {threshold}")
    return DriftRule(method.lower(), threshold)


def parse_monitor(spec: object, path: Path | str) -> MonitorConfig:
    """The ``monitor:`` section of the project file at ``path`` (``None``: defaults)."""
    if spec is None:
        return MonitorConfig()
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{path}: 'monitor' must be a mapping, got {type(spec).__name__}")
    _known(spec, _KEYS, f"{path}: monitor")
    drift = spec.get("drift") or {}
    if not isinstance(drift, Mapping):
        raise ConfigError(f"{path}: monitor.drift must be a mapping")
    _known(drift, _DRIFT_KEYS, f"{path}: monitor.drift")
    features = drift.get("features") or {}
    if not isinstance(features, Mapping):
        raise ConfigError(f"{path}: monitor.drift.features must map features to rules")
    freshness = spec.get("freshness") or {}
    if not isinstance(freshness, Mapping):
        raise ConfigError(f"{path}: monitor.freshness must map feature views to durations")
    log = spec.get("serving_log") or {}
    if not isinstance(log, Mapping):
        raise ConfigError(f"{path}: monitor.serving_log must be a mapping")
    _known(log, _LOG_KEYS, f"{path}: monitor.serving_log")
    rate = log.get("sample_rate", 0.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise ConfigError(f"{path}: monitor.serving_log.sample_rate must be in 0..1, got {rate!r}")
    max_mb = log.get("max_mb", 256)
    if isinstance(max_mb, bool) or not isinstance(max_mb, int | float) or max_mb <= 0:
        raise ConfigError(f"{path}: monitor.serving_log.max_mb must be above 0, got {max_mb!r}")
    return MonitorConfig(
        numeric=parse_rule(drift.get("numeric") or {}, f"{path}: monitor.drift.numeric"),
        categorical=parse_rule(
            drift.get("categorical") or {}, f"{path}: monitor.drift.categorical"
        ),
        features={
            str(name): parse_rule(rule, f"{path}: monitor.drift.features.{name}")
            for name, rule in features.items()
        },
        freshness={
            str(view): parse_duration(value, f"{path}: monitor.freshness.{view}")
            for view, value in freshness.items()
        },
        serving_log=ServingLogConfig(float(rate), int(max_mb * 1024 * 1024)),
    )


def _known(spec: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(map(str, unknown))}; known: "
            f"{', '.join(sorted(known))}"
        )
