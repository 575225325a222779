"""``api.protocol``: the inline route over real sockets, against the ASGI path's answers.

Raw HTTP/1.1 on one keep-alive connection, so each test controls pipelining, framing and
headers exactly; the server is uvicorn with our protocol, as ``featurestore serve`` runs it.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from api.settings import ApiSettings
from featurestore.redis_server import LocalRedis, free_port
from tests.online_repo import OnlineRepo, ServerThread, make_repo, online_repo  # noqa: F401

pytestmark = [pytest.mark.redis]

NOW = datetime.now(UTC)
LOOKUP = orjson.dumps({"features": ["item_stats:price"], "entities": {"item_id": ["i1", "i9"]}})


def post(body: bytes, *headers: str, path: str = "/get-online-features") -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n{head}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def get(path: str, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"GET {path} HTTP/1.1\r\nHost: t\r\n{head}\r\n".encode()


class Conn:
    """One keep-alive connection that reads Content-Length-framed responses."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def send(self, *requests: bytes) -> None:
        self.sock.sendall(b"".join(requests))

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError("closed before a response")
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        pairs = (line.split(": ", 1) for line in lines[1:])
        headers = {name.lower(): value for name, value in pairs}
        length = int(headers["content-length"])
        while len(rest) < length:
            if not self._fill():
                raise ConnectionError("closed inside a body")
            rest = self.buffer.partition(b"\r\n\r\n")[2]
        self.buffer = rest[length:]
        return int(lines[0].split()[1]), headers, rest[:length]

    def closed(self) -> bool:
        return self.buffer == b"" and not self._fill()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def repo(online_repo: OnlineRepo) -> OnlineRepo:  # noqa: F811
    online_repo.reset()
    online_repo.write(
        "item_stats",
        {"item_id": ["i1"], "price": [9.5], "title": ["a"], "event_timestamp": [NOW]},
    )
    return online_repo


@pytest.fixture(scope="module")
def port(repo: OnlineRepo) -> Iterator[int]:
    api = ApiSettings(registry_refresh_seconds=0, max_body_bytes=2000)
    with ServerThread(repo.settings, api) as server:
        yield server.port


@pytest.fixture
def conn(port: int) -> Iterator[Conn]:
    c = Conn(port)
    yield c
    c.close()


def test_keep_alive_lookups_answer_like_feast(conn: Conn) -> None:
    for _ in range(3):
        conn.send(post(LOOKUP))
        status, headers, body = conn.response()
        assert status == 200
        assert headers["content-type"] == "application/json"
        assert "date" in headers and headers["server"] == "uvicorn"
        doc = orjson.loads(body)
        assert doc["metadata"]["feature_names"] == ["item_id", "price"]
        assert doc["results"][1]["values"] == [9.5, None]
        assert doc["results"][1]["statuses"] == ["PRESENT", "NOT_FOUND"]


def test_pipelined_requests_keep_their_order(conn: Conn) -> None:
    bad = orjson.dumps({"feature_service": "nope", "entities": {"item_id": ["i1"]}})
    conn.send(
        post(LOOKUP),
        get("/health"),
        post(b"{not json"),
        post(LOOKUP),
        post(bad),
        get("/nowhere"),
        post(LOOKUP),
    )
    answers = [conn.response() for _ in range(7)]
    assert [status for status, _, _ in answers] == [200, 200, 422, 200, 404, 404, 200]
    assert orjson.loads(answers[1][2]) == {"status": "ok"}
    assert orjson.loads(answers[2][2])["code"] == "invalid_request"
    assert "nope" in orjson.loads(answers[4][2])["detail"]
    assert orjson.loads(answers[6][2])["results"][1]["values"] == [9.5, None]


def test_errors_and_framing_the_inline_route_leaves_to_asgi(conn: Conn) -> None:
    too_big = orjson.dumps({"entities": {"item_id": ["x" * 3000]}})
    conn.send(post(too_big))
    status, _, body = conn.response()
    assert status == 413 and orjson.loads(body)["code"] == "request_too_large"
    chunked = (
        b"POST /get-online-features HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n%s\r\n0\r\n\r\n" % (len(LOOKUP), LOOKUP)
    )
    conn.send(chunked, post(LOOKUP, path="/get-online-features?x=1"))
    assert conn.response()[0] == 200
    assert conn.response()[0] == 200


def test_connection_close_is_honoured(conn: Conn) -> None:
    conn.send(post(LOOKUP, "Connection: close"))
    status, headers, _ = conn.response()
    assert status == 200 and headers["connection"] == "close"
    assert conn.closed()


def test_bad_http_is_400(conn: Conn) -> None:
    conn.send(b"POST /get-online-features HTTP/1.1\r\nContent-Length: x\r\n\r\n")
    assert conn.response()[0] == 400


def test_metrics_count_inline_answers(conn: Conn) -> None:
    def count() -> float:
        conn.send(get("/metrics"))
        text = conn.response()[2].decode()
        for line in text.splitlines():
            if line.startswith("featurestore_http_requests_total{") and (
                'endpoint="/get-online-features"' in line and 'status="200"' in line
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = count()
    for _ in range(3):
        conn.send(post(LOOKUP))
        assert conn.response()[0] == 200
    assert count() == before + 3


def test_api_keys_and_cors(repo: OnlineRepo) -> None:
    api = ApiSettings(
        registry_refresh_seconds=0, api_keys=("k1",), cors_origins=("http://ui.test",)
    )
    with ServerThread(repo.settings, api) as server:
        conn = Conn(server.port)
        conn.send(post(LOOKUP), post(LOOKUP, "Authorization: Bearer k2"))
        for _ in range(2):
            status, headers, body = conn.response()
            assert status == 401 and headers["www-authenticate"] == "Bearer"
            assert orjson.loads(body)["code"] == "unauthorized"
        conn.send(post(LOOKUP, "Authorization: Bearer k1"))
        assert conn.response()[0] == 200
        conn.send(post(LOOKUP, "Authorization: Bearer k1", "Origin: http://ui.test"))
        status, headers, _ = conn.response()
        assert status == 200 and headers["access-control-allow-origin"] == "http://ui.test"
        conn.close()


def test_redis_down_is_503_within_the_timeout_then_recovers(tmp_path: Path) -> None:
    server = LocalRedis(workdir=tmp_path / "redis", port=free_port())
    server.start(daemonize=False, persist=False)
    try:
        settings, _ = make_repo(tmp_path, server.url)
        api = ApiSettings(registry_refresh_seconds=0, redis_timeout=0.5)
        with ServerThread(settings, api) as running:
            conn = Conn(running.port)
            conn.send(post(LOOKUP))
            assert conn.response()[0] == 200
            server.stop()
            start = time.monotonic()
            conn.send(post(LOOKUP))
            status, _, body = conn.response()
            assert status == 503 and orjson.loads(body)["code"] == "online_store_unavailable"
            assert time.monotonic() - start < 2
            server.start(daemonize=False, persist=False)
            conn.send(post(LOOKUP))
            assert conn.response()[0] == 200
            conn.close()
    finally:
        server.stop()


def test_redis_that_never_answers_is_503_within_the_timeout(repo: OnlineRepo) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
    settings = dataclasses.replace(repo.settings, redis_url=url)
    api = ApiSettings(registry_refresh_seconds=0, redis_timeout=0.4)
    try:
        with ServerThread(settings, api) as running:
            conn = Conn(running.port)
            for _ in range(2):  # the second on a new connection to the silent server
                start = time.monotonic()
                conn.send(post(LOOKUP))
                status, _, _ = conn.response()
                elapsed = time.monotonic() - start
                assert status == 503
                assert 0.35 < elapsed < 1.5
            conn.close()
    finally:
        silent.close()


def test_health_inline_and_through_asgi_alike(conn: Conn) -> None:
    conn.send(get("/health"), get("/health?probe=1"), get("/health", "Content-Length: 2") + b"{}")
    answers = [conn.response() for _ in range(3)]
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert {body for _, _, body in answers} == {b'{"status":"ok"}'}
    assert {headers["content-type"] for _, headers, _ in answers} == {"application/json"}


def _error(conn: Conn) -> tuple[int, dict[str, str], dict[str, str]]:
    status, headers, body = conn.response()
    return status, headers, orjson.loads(body)


def test_slow_heads_and_bodies_are_408_then_closed(repo: OnlineRepo) -> None:
    """A request whose head or body does not arrive in time is answered 408 and the
    connection closed; an idle keep-alive connection is not (uvicorn's keep-alive timeout
    governs it), nor is a request sent in pieces within the time."""
    api = ApiSettings(registry_refresh_seconds=0, header_timeout=0.6, body_timeout=0.6)
    with ServerThread(repo.settings, api, keep_alive=3) as server:
        conn = Conn(server.port)
        conn.send(post(LOOKUP))
        assert conn.response()[0] == 200
        time.sleep(1.0)  # idle past the head timeout, within keep-alive
        request = post(LOOKUP)
        conn.send(request[:20])
        time.sleep(0.3)
        conn.send(request[20:-10])
        time.sleep(0.2)
        conn.send(request[-10:])
        assert conn.response()[0] == 200
        conn.send(b"POST /get-online-features HTTP/1.1\r\nHost: t\r\n")  # the head stalls
        start = time.monotonic()
        status, headers, body = _error(conn)
        assert 0.5 < time.monotonic() - start < 2.5
        assert status == 408 and headers["connection"] == "close"
        assert body["code"] == "request_timeout" and "head" in body["detail"]
        assert conn.closed()
        conn.close()
        for path in ("/get-online-features", "/push"):  # inline and ASGI alike
            conn = Conn(server.port)
            conn.send(post(LOOKUP, path=path)[:-5])  # 5 bytes short of Content-Length
            start = time.monotonic()
            status, headers, body = _error(conn)
            assert 0.5 < time.monotonic() - start < 2.5
            assert status == 408 and body["code"] == "request_timeout"
            assert "body" in body["detail"]
            assert conn.closed()
            conn.close()


def test_a_connection_that_sends_nothing_is_closed_by_keep_alive(repo: OnlineRepo) -> None:
    api = ApiSettings(registry_refresh_seconds=0)
    with ServerThread(repo.settings, api, keep_alive=0.5) as server:
        conn = Conn(server.port)
        start = time.monotonic()
        assert conn.closed()  # no answer, just closed
        assert time.monotonic() - start < 3
        conn.close()


def _health_answers(port: int) -> bool:
    conn = Conn(port)
    try:
        conn.send(get("/health"))
        return conn.response()[0] == 200
    except ConnectionError:
        return False
    finally:
        conn.close()


def test_connections_per_client_are_capped(repo: OnlineRepo) -> None:
    api = ApiSettings(registry_refresh_seconds=0, max_connections_per_client=3)
    with ServerThread(repo.settings, api) as server:
        conns = [Conn(server.port) for _ in range(3)]
        for conn in conns:
            conn.send(get("/health"))
            assert conn.response()[0] == 200
        refused = Conn(server.port)
        status, headers, body = _error(refused)
        assert status == 503 and headers["connection"] == "close"
        assert body["code"] == "too_many_connections" and "3" in body["detail"]
        assert refused.closed()
        refused.close()
        conns.pop().close()
        deadline = time.monotonic() + 5
        while not _health_answers(server.port):  # the server sees the close a moment later
            assert time.monotonic() < deadline, "a freed slot was not given to a new connection"
            time.sleep(0.05)
        for conn in conns:
            conn.send(post(LOOKUP))
            assert conn.response()[0] == 200
            conn.close()
