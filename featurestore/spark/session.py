"""The one SparkSession of a process, started on first use with the settings our paths need.

Spark allows one SparkContext per JVM, so the session is shared: every job, training
set and materialization of a process (and every test of a test run) uses it. Asking for
another master stops it and starts a new one.

Settings that make Spark's results equal DuckDB's, whatever the cluster's defaults:

- ``spark.sql.session.timeZone=UTC``: TIMESTAMP (with time zone) values render and
  truncate in UTC, as our DuckDB connections do;
- ``spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS``: Parquet timestamps as
  INT64 microseconds, as DuckDB writes them (Spark's default INT96 is read back by
  pyarrow as nanoseconds, and Spark cannot read TIMESTAMP(NANOS) at all);
- ``spark.sql.ansi.enabled=false``: a division by zero is NULL, as in DuckDB;
- the driver and its block manager bound to 127.0.0.1 in local mode, the web UI off,
  and the Python workers running this interpreter (whose packages the workers need).

Before the JVM is started the requirements are checked, so that a missing one is one
line saying what to install: pyspark itself, and a Java runtime (17 or newer).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from featurestore.engine import SparkSettings
from featurestore.errors import EngineUnavailableError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "pip install 'featurestore[spark]' gives pyspark; "
    "`make spark` installs Debian's openjdk-17-jre-headless"
)
# JDBC drivers from Debian's packages (libpostgresql-jdbc-java, libxerial-sqlite-jdbc-java).
JDBC_JARS = (Path("/usr/share/java/postgresql.jar"), Path("/usr/share/java/sqlite-jdbc.jar"))

_lock = threading.Lock()
_session: SparkSession | None = None
_settings: SparkSettings | None = None


def spark_session(settings: SparkSettings) -> SparkSession:
    """The process's SparkSession for ``settings``, started if needed."""
    global _session, _settings
    with _lock:
        if _session is not None and _settings == settings and _alive(_session):
            return _session
        # What can be checked before the JVM is asked: a session that cannot start must
        # not cost the running one (its users keep it).
        java_home()
        _check_reachable(settings.master)
        if _session is not None:
            logger.info("stopping the Spark session on %s for %s", _settings, settings)
            _session.stop()
            _session = None
        _session = _start(settings)
        _settings = settings
        return _session


def stop() -> None:
    """Stop the process's session (its JVM stays for the next one)."""
    global _session, _settings
    with _lock:
        if _session is not None:
            _session.stop()
        _session, _settings = None, None


def java_home() -> Path:
    """The Java runtime Spark will start, or ``EngineUnavailableError`` saying so."""
    home = os.environ.get("JAVA_HOME")
    java = Path(home) / "bin" / "java" if home else None
    if java is None or not java.exists():
        found = shutil.which("java")
        if found is None:
            where = f"JAVA_HOME={home} has no bin/java" if home else "no java on PATH"
            raise EngineUnavailableError(
                f"the spark engine needs a Java 17+ runtime: {where}; {INSTALL_HINT}"
            )
        java = Path(found).resolve()
    version = _java_major(java)
    if version is not None and version < 17:
        raise EngineUnavailableError(
            f"the spark engine needs Java 17 or newer; {java} is Java {version}; {INSTALL_HINT}"
        )
    return java.parent.parent


def _java_major(java: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30
        ).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    for token in out.replace('"', " ").split():
        head = token.split(".")[0]
        if head.isdigit() and token[0].isdigit():
            major = int(head)
            return int(token.split(".")[1]) if major == 1 else major
    return None


def _start(settings: SparkSettings) -> SparkSession:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineUnavailableError(
            f"the spark engine needs pyspark, which is not installed; {INSTALL_HINT}"
        ) from None
    os.environ.setdefault("JAVA_HOME", str(java_home()))
    _check_reachable(settings.master)
    local = settings.master.startswith("local")
    builder = SparkSession.builder.master(settings.master).appName("featurestore")
    conf = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.ansi.enabled": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "8" if local else "200",
        "spark.driver.memory": "4g",
    }
    if local:
        conf |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
        # The executors' Python workers: this interpreter, with this package and pyarrow
        # (a cluster's executors name their own, with spark.pyspark.python in conf).
        conf["spark.pyspark.python"] = sys.executable
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    jars = [str(jar) for jar in JDBC_JARS if jar.exists()]
    if jars:
        conf["spark.jars"] = ",".join(jars)
    conf |= dict(settings.conf)
    for key, value in conf.items():
        builder = builder.config(key, value)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j and the JVM raise many kinds; all mean "cannot start"
        raise EngineUnavailableError(
            f"Spark did not start on master {settings.master!r}: {java_message(exc)}"
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def _check_reachable(master: str, timeout: float = 5.0) -> None:
    """A standalone master that accepts no connection fails now, not after Spark's
    minute of registration retries."""
    if not master.startswith("spark://"):
        return
    problems = []
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host or address, int(port or 7077)), timeout):
                return
        except (OSError, ValueError) as exc:
            problems.append(f"{address}: {getattr(exc, 'strerror', None) or exc}")
    raise EngineUnavailableError(
        f"Spark master {master} does not accept connections ({'; '.join(problems)})"
    )


def java_message(exc: BaseException) -> str:
    """The first line of the JVM's own message for a py4j error (py4j's is "An error
    occurred while calling ..."), else of ``exc``."""
    java = getattr(exc, "java_exception", None)
    text = ""
    if java is not None:
        try:
            text = str(java.toString())
        except Exception:
            text = ""
    text = text or str(exc)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _alive(session: SparkSession) -> bool:
    try:
        return session.sparkContext._jsc is not None
    except Exception:
        return False
