"""The data folder of a project: the one place its layout is defined.

    data/
        registry.db                          Feast's registry (path set in feature_store.yaml)
        features/<table>.parquet             a feature table: a link to its current version
        features/.versions/<table>/<run id>/ the immutable versions (ingestion.storage)
        features/<table>.quarantine/         rows that broke a rule, one file per run
        features/.locks/<table>.lock         one run of a job at a time
        ingestion/runs.sqlite                the run history
        redis/                               the local redis-server's pid, log and snapshot
        run/                                 the background API's pid file and log
        monitor/stats/<table>/               statistics per partition, one file per run
        monitor/serving/                     the sampled log of served feature vectors
        monitor/reports/                     drift reports the monitor wrote (JSON)
        push/<table>/                        pushed rows not yet compacted (featurestore.push.wal)

Everything that reads or writes these paths asks ``DataLayout``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataLayout:
    root: Path

    @property
    def features(self) -> Path:
        return self.root / "features"

    def table(self, name: str) -> Path:
        """The path Feast's FileSource names: a link to the table's current version."""
        return self.features / f"{name}.parquet"

    def versions(self, name: str) -> Path:
        return self.features / ".versions" / name

    def quarantine(self, name: str) -> Path:
        return self.features / f"{name}.quarantine"

    @property
    def locks(self) -> Path:
        return self.features / ".locks"

    def push_log(self, table: str) -> Path:
        """The write-ahead log of rows pushed to a declared push source's table."""
        return self.root / "push" / table

    @property
    def history(self) -> Path:
        return self.root / "ingestion" / "runs.sqlite"

    @property
    def redis(self) -> Path:
        return self.root / "redis"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def monitor(self) -> Path:
        return self.root / "monitor"

    def monitor_stats(self, table: str) -> Path:
        """The statistics of a feature table's partitions (``featurestore.monitor.stats``)."""
        return self.monitor / "stats" / table

    @property
    def serving_log(self) -> Path:
        """Sampled served feature vectors (``featurestore.monitor.serving_log``)."""
        return self.monitor / "serving"

    @property
    def monitor_reports(self) -> Path:
        return self.monitor / "reports"

    def feature_tables(self) -> dict[str, Path]:
        """Every feature table with at least one partition file, by name."""
        found = {}
        for path in sorted(self.features.glob("*.parquet")):
            if path.is_dir() and not any(path.rglob("*.parquet")):
                continue  # a table whose every partition was replaced by nothing
            found[path.stem] = path
        return found

    def quarantines(self) -> dict[str, Path]:
        """Every quarantine folder holding rows, by the name SQL sees (``<table>_quarantine``)."""
        return {
            f"{folder.stem}_quarantine": folder
            for folder in sorted(self.features.glob("*.quarantine"))
            if any(folder.glob("*.parquet"))
        }
