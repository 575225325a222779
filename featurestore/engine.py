"""Which batch engine runs a project's jobs, training sets and materialization.

    engine: duckdb            # the default: one machine, in-process
    spark:                    # read only when the engine is spark
      master: local[2]        # any Spark master URL: local[N], spark://host:7077, yarn, k8s://...
      conf:                   # passed to SparkSession.builder.config, as strings
        spark.executor.memory: 4g

``FEATURESTORE_ENGINE`` and ``FEATURESTORE_SPARK_MASTER`` override the file; a command's
``--engine`` and ``--spark-master`` override both (``EngineConfig.override``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

from featurestore.errors import ConfigError

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[EngineName, ...] = ("duckdb", "spark")
DEFAULT_MASTER = "local[2]"
_SPARK_KEYS = {"master", "conf"}
_MASTER = re.compile(
    r"local(\[(\*|\d+)(,\s*\d+)?\])?"  # local, local[4], local[*], local[4,2]
    r"|local-cluster\[\d+,\s*\d+,\s*\d+\]"
    r"|spark://[^\s/]+(:\d+)?(,[^\s/]+(:\d+)?)*"
    r"|yarn|k8s://\S+|mesos://\S+"
)


@dataclass(frozen=True)
class SparkSettings:
    """Where Spark runs and the session settings added to ours."""

    master: str = DEFAULT_MASTER
    conf: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class EngineConfig:
    name: EngineName = "duckdb"
    spark: SparkSettings = field(default_factory=SparkSettings)

    @property
    def is_spark(self) -> bool:
        return self.name == "spark"

    def override(self, engine: str | None = None, master: str | None = None) -> EngineConfig:
        """This config with a command's ``--engine`` / ``--spark-master`` applied."""
        config = self
        if engine is not None:
            config = replace(config, name=check_engine(engine, "--engine"))
        if master is not None:
            config = replace(
                config, spark=replace(config.spark, master=check_master(master, "--spark-master"))
            )
        return config


def check_engine(value: object, where: str) -> EngineName:
    if value not in ENGINES:
        raise ConfigError(f"{where}: the engine must be one of {', '.join(ENGINES)}, got {value!r}")
    return cast(EngineName, value)


def check_master(value: object, where: str) -> str:
    if not isinstance(value, str) or not _MASTER.fullmatch(value.strip()):
        raise ConfigError(
            f"{where}: not a Spark master URL: {value!r} "
            "(local[N], local[*], spark://host:7077, yarn or k8s://...)"
        )
    return value.strip()


def parse_engine(engine: object, spark: object, path: Path, env: Mapping[str, str]) -> EngineConfig:
    """The project file's ``engine`` and ``spark`` keys, then the environment's overrides."""
    name = check_engine(env.get("FEATURESTORE_ENGINE") or engine or "duckdb", f"{path}: engine")
    spec: Mapping[str, Any] = spark if isinstance(spark, Mapping) else {}
    if spark is not None and not isinstance(spark, Mapping):
        raise ConfigError(f"{path}: 'spark' must be a mapping with master and conf")
    unknown = sorted(set(spec) - _SPARK_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: spark: unknown key(s) {', '.join(unknown)}; known: conf, master"
        )
    master = check_master(
        env.get("FEATURESTORE_SPARK_MASTER") or spec.get("master") or DEFAULT_MASTER,
        f"{path}: spark.master",
    )
    conf = spec.get("conf") or {}
    if not isinstance(conf, Mapping):
        raise ConfigError(f"{path}: spark.conf must map Spark settings to values")
    settings = SparkSettings(master, MappingProxyType({str(k): str(v) for k, v in conf.items()}))
    return EngineConfig(name, settings)


def engine_from_env(env: Mapping[str, str]) -> EngineConfig:
    """A bare Feast repo's engine (no project file): the environment's, else DuckDB."""
    return parse_engine(None, None, Path("FEATURESTORE_ENGINE"), env)
