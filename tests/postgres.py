"""A throwaway PostgreSQL server for the tests: ``initdb`` into a temporary folder.

The server listens on 127.0.0.1 on a free port, with its unix socket in the same
folder. Local (socket) connections are trusted, so the fixture sets things up as the
``postgres`` superuser; TCP connections need a password (scram-sha-256), so the tests
reach the server the way a project would, as ``USER`` with ``PASSWORD`` in a URL.

``initdb`` and ``postgres`` refuse to run as root: as root they run as Debian's
``postgres`` system user (created by the ``postgresql`` package, which ``make postgres``
installs) through ``runuser``, with the folder chowned to that user. The folder is made
by ``tempfile.mkdtemp`` in /tmp rather than pytest's tmp_path, whose root-only parent
folders the ``postgres`` user cannot enter. The server is stopped by its pid (the
postmaster's, read from ``postmaster.pid``) with a fast shutdown at session end.

No PostgreSQL at all is an error, never a skip: CI must not pass by testing less.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import adbc_driver_postgresql.dbapi as pg
import pytest

from featurestore.redis_server import free_port

USER = "app"
PASSWORD = "s3cr3t-Pa55"
DATABASE = "shop"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    socket_dir: Path
    pid: int

    def url(self, password: str = PASSWORD, database: str = DATABASE) -> str:
        """The URL a project would write, as the password-protected ``USER``."""
        return f"postgresql://{USER}:{password}@{self.host}:{self.port}/{database}"

    @property
    def admin_uri(self) -> str:
        """The superuser over the unix socket (trusted): for setting up, never for tests."""
        return f"postgresql:///{DATABASE}?host={self.socket_dir}&port={self.port}&user=postgres"

    def execute(self, *statements: str) -> None:
        """Run statements as ``USER`` in ``DATABASE`` (autocommitted)."""
        with pg.connect(self.url(), autocommit=True) as conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)


def find_bin_dir() -> Path:
    """The folder of PostgreSQL's server programs: ``initdb`` on PATH, else Debian's newest."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not found:
        pytest.fail(
            "PostgreSQL not found: no initdb on PATH or under /usr/lib/postgresql/*/bin; "
            "run `make postgres` (as root it installs Debian's postgresql)",
            pytrace=False,
        )
    return Path(found[-1]).parent


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        pytest.fail("running as root and runuser is missing: cannot start PostgreSQL")
    return ["runuser", "-u", "postgres", "--", *command]


def _chown_to_server_user(folder: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        shutil.chown(folder, user="postgres", group="postgres")
    except LookupError:
        pytest.fail(
            "running as root and there is no `postgres` system user to run PostgreSQL as "
            "(Debian's postgresql package creates it: run `make postgres`)",
            pytrace=False,
        )


def _wait_ready(process: subprocess.Popen[bytes], data: Path, log: Path) -> int:
    """The postmaster's pid, once it accepts connections on the socket."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"postgres exited with {process.returncode}:\n{log.read_text()}")
        pid_file = data / "postmaster.pid"
        lines = pid_file.read_text().splitlines() if pid_file.exists() else []
        if len(lines) >= 8 and lines[7].strip() == "ready":
            return int(lines[0])
        time.sleep(0.05)
    process.terminate()
    pytest.fail(f"postgres did not get ready in {START_TIMEOUT:.0f}s:\n{log.read_text()}")


def _setup(server: PostgresServer) -> None:
    setup_uri = server.admin_uri.replace(f"/{DATABASE}?", "/postgres?")
    with pg.connect(setup_uri, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        cur.execute(f"CREATE DATABASE {DATABASE} OWNER {USER}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session, with ``USER`` owning ``DATABASE``."""
    bin_dir = find_bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="featurestore-pg-"))
    _chown_to_server_user(folder)
    data, log = folder / "data", folder / "postgres.log"
    initdb = subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if initdb.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}", pytrace=False)
    port = free_port()
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            _as_server_user(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-k",
                    str(folder),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "synchronous_commit=off",
                ]
            ),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        pid = _wait_ready(process, data, log)
        server = PostgresServer(host="127.0.0.1", port=port, socket_dir=folder, pid=pid)
        _setup(server)
        yield server
    finally:
        stop(process, data)
        shutil.rmtree(folder, ignore_errors=True)


def stop(process: subprocess.Popen[bytes], data: Path) -> None:
    """A fast shutdown of the postmaster, by its pid; then wait for our child to exit."""
    pid_file = data / "postmaster.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().split("\n", 1)[0])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
