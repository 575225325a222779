"""The HTTP/1.1 protocol our server runs: uvicorn's httptools protocol, except that
``POST /get-online-features`` and ``GET /health`` are answered inline, without an ASGI
request cycle.

Measured with wrk on one keep-alive connection (``bench/bench_serving.py``), the ASGI
cycle cost more than the lookup: uvicorn builds a scope, an event and a task per request,
passes every message through the middleware as a dict, and writes the response head and
body in two ``send`` calls, which on loopback means two segments and two wake-ups of the
client. This protocol parses the request with the same httptools parser, reads the body,
runs the same code as ``api.fastpath`` (``answer_then``, with a callback: no task, no
future), and writes the status line, headers and body in one call. Everything else (other
routes, lifespan, workers, signals, graceful shutdown, keep-alive timeouts) stays
uvicorn's; ``featurestore serve`` starts it with ``uvicorn --http
api.protocol:InlineHttpProtocol``.

A request is answered inline only when nothing about it needs the ASGI stack; any other
request, even to the same route, takes uvicorn's path through the app, which answers it
the same way (``api.fastpath``, the FastAPI route), so the semantics never depend on this
module:

- HTTP/1.1, no upgrade, no ``Expect: 100-continue``, no ``Transfer-Encoding``, the exact
  path (no query string); for the lookup a ``Content-Length`` within the body limit
  (anything else is a 413 or a streamed body: the ASGI path handles both), for ``/health``
  no body;
- nothing in flight on the connection (pipelined requests keep their order: a request
  that arrives while another is answered is queued by uvicorn, as usual);
- a valid API key when keys are configured (a missing or wrong one gets the ASGI path's
  401; ``/health`` is open), no ``Origin`` header when CORS is configured;
- no access log and no concurrency limit configured (uvicorn applies both per request).

An answer names the requested views past their freshness objective in
``x-featurestore-stale`` as the ASGI path does (``FEATURESTORE_STALE_HEADER=1``).

Metrics are the same as the middleware's (requests by endpoint, method and status, and
their latency), counted from the end of the request head.

Slow clients, which uvicorn waits for forever, are cut off here, on every connection:

- a request's head must arrive within ``header_timeout`` seconds of its first byte, and
  its body within ``body_timeout`` seconds of the head's end; else the answer is 408
  ``request_timeout`` and the connection is closed. The clock runs only while the server
  waits on the client: while reading is paused (a pipelined request queued behind
  another, a body past uvicorn's buffer the app has not read yet) or a response is being
  written, it starts over. A request that arrives in one read arms no timer at all;
- a connection idle between requests, or that never sends a byte, is uvicorn's keep-alive
  business (``--timeout-keep-alive``, armed here on connect too), closed without an
  answer;
- each worker holds at most ``max_connections_per_client`` connections per client
  address; one more is answered 503 ``too_many_connections`` and closed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from api.fastpath import PATH, Answered, FastPathApp, answer_then
from api.lookups import STALE_HEADER
from api.middleware import OPEN_PATHS, bearer_allowed, key_digests
from api.settings import ApiSettings

__all__ = ["InlineHttpProtocol"]

_LOOKUP = PATH.encode()
_HEALTH = b"/health"
_HEALTHY = b'{"status":"ok"}'  # what the FastAPI route answers
_TYPE = b"content-type: application/json\r\ncontent-length: "
_NOT_INLINE = frozenset({b"transfer-encoding", b"expect"})  # streamed bodies, 100-continue
_HEAD, _BODY = "head", "body"  # what a request waits for, between its first and last byte
# Open connections by client address, per server (tests run several in one process).
_CLIENTS: WeakKeyDictionary[ServerState, Counter[str]] = WeakKeyDictionary()


class _Event:
    """What uvicorn sets on the current cycle when the connection is lost: nothing waits."""

    def set(self) -> None:
        pass


class _InlineCycle:
    """Stands for uvicorn's ``RequestResponseCycle`` while an inline request is answered:
    uvicorn queues pipelined requests behind it, and asks it to close after the answer
    on shutdown (``keep_alive``)."""

    __slots__ = ("disconnected", "keep_alive", "message_event", "response_complete")

    def __init__(self, keep_alive: bool) -> None:
        self.keep_alive = keep_alive
        self.response_complete = False
        self.disconnected = False
        self.message_event = _Event()


Done = Answered
_STALE = STALE_HEADER.encode()


class _Route(NamedTuple):
    path: str  # the metrics' endpoint label, as the ASGI path labels it
    method: str
    handler: Callable[[bytes, Done], None]
    with_body: bool


class _Routes:
    """The inline routes and what they need from the app, read once per connection."""

    def __init__(self, app: FastPathApp) -> None:
        state = app.state
        api = state.api_settings
        self.lookup = state.lookup
        self.metrics = state.metrics
        self.freshness = getattr(state, "stale_views", None)  # FEATURESTORE_STALE_HEADER=1
        self.limit: int = api.max_body_bytes
        self.digests = key_digests(api.api_keys) if api.api_keys else None
        self.cors = bool(api.cors_origins)
        self.table: dict[tuple[bytes, bytes], _Route] = {  # by (method, raw URL)
            (b"POST", _LOOKUP): _Route(PATH, "POST", self.answer_lookup, True),
            (b"GET", _HEALTH): _Route("/health", "GET", self.answer_health, False),
        }

    def answer_lookup(self, body: bytes, done: Done) -> None:
        answer_then(self.lookup, self.metrics, body, done, self.freshness)

    def answer_health(self, body: bytes, done: Done) -> None:
        done(200, _HEALTHY)

    def accepts(self, headers: list[tuple[bytes, bytes]], path: str, with_body: bool) -> bool:
        """Whether a request with these (lower-cased) headers can be answered inline."""
        length = -1
        authorization = b""
        for name, value in headers:
            if name == b"content-length":
                if length >= 0 or not value.isdigit():
                    return False
                length = int(value)
            elif name == b"authorization":
                authorization = value
            elif name in _NOT_INLINE or (name == b"origin" and self.cors):
                return False
        if with_body:
            if length < 0 or length > self.limit:
                return False
        elif length > 0:
            return False
        return (
            self.digests is None
            or path in OPEN_PATHS
            or bearer_allowed(self.digests, authorization)
        )


def _find_app(app: Any) -> FastPathApp | None:
    """Our app inside uvicorn's wrappers (proxy headers, message logger), if it is ours."""
    for _ in range(8):
        if isinstance(app, FastPathApp):
            return app
        app = getattr(app, "app", None)
    return None


class InlineHttpProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._routes: _Routes | None = None
        app = _find_app(self.app)
        api: ApiSettings = ApiSettings() if app is None else app.state.api_settings
        self._timeouts = {_HEAD: api.header_timeout, _BODY: api.body_timeout}
        self._max_per_client = api.max_connections_per_client
        self._clients = _CLIENTS.setdefault(server_state, Counter())
        self._counted: str | None = None  # the client address this connection counts for
        self._waiting: str | None = None  # _HEAD or _BODY while a request is incomplete
        self._read_timer: asyncio.TimerHandle | None = None
        # The lookup exists once the lifespan ran; without it, or with per-request work
        # configured in uvicorn, every request takes the ASGI path.
        if (
            app is not None
            and getattr(app.state, "lookup", None) is not None
            and self.limit_concurrency is None
            and not self.access_log
        ):
            self._routes = _Routes(app)
        self._body: bytearray | None = None  # the inline request's body, while it is read
        self._started = 0.0
        self._route: _Route | None = None
        self._head_cache: tuple[object, bytes] = (None, b"")

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else None
        if host is not None:
            if self._clients[host] >= self._max_per_client:
                detail = f"too many connections from {host} (limit {self._max_per_client})"
                self._refuse(503, detail, "too_many_connections")
                return
            self._clients[host] += 1
            self._counted = host
        # Until its first byte, a connection is as idle as one between requests.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_timer()
        self._release()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        self._waiting = None
        self._cancel_read_timer()
        self._release()  # the connection is the WebSocket protocol's from here
        super().handle_websocket_upgrade()

    def _release(self) -> None:
        host, self._counted = self._counted, None
        if host is not None:
            left = self._clients[host] - 1
            if left > 0:
                self._clients[host] = left
            else:
                del self._clients[host]

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Timers only for requests that span reads: one read, one whole request, no timer.
        if self._waiting is not None and self._read_timer is None:
            self._arm_read_timer()

    def _arm_read_timer(self) -> None:
        assert self._waiting is not None
        timeout = self._timeouts[self._waiting]
        self._read_timer = self.loop.call_later(timeout, self._read_timed_out)

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        waiting = self._waiting
        if waiting is None or self.transport.is_closing():
            return
        cycle: Any = self.cycle  # in the body: this request's; in the head: the previous
        answering = cycle is not None and not cycle.response_complete
        if waiting == _BODY:
            answering = answering and getattr(cycle, "response_started", False)
        if self.flow.read_paused or answering:  # the server is the slow one: start over
            self._arm_read_timer()
        elif waiting == _BODY and cycle.response_complete:
            self.transport.close()  # answered already (before reading the body)
        else:
            detail = f"the request {waiting} did not arrive within {self._timeouts[waiting]:g} s"
            self._refuse(408, detail, "request_timeout")

    def _refuse(self, status: int, detail: str, code: str) -> None:
        """Answer ``{"detail", "code"}`` and close the connection."""
        payload = orjson.dumps({"detail": detail, "code": code})
        self.transport.write(
            b"%s%s%s%d\r\nconnection: close\r\n\r\n%s"
            % (STATUS_LINE[status], self._head(), _TYPE, len(payload), payload)
        )
        self.transport.close()

    def on_message_begin(self) -> None:
        # An inline answer can complete inside ``feed_data`` (a request refused before any
        # I/O) and arm the keep-alive timer while a pipelined request is still to be parsed.
        self._unset_keepalive_if_required()
        self._waiting = _HEAD
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._waiting = _BODY
        self._cancel_read_timer()  # the body's clock starts when the head ends
        self._on_headers_complete()

    def _on_headers_complete(self) -> None:
        routes = self._routes
        route = None if routes is None else routes.table.get((self.parser.get_method(), self.url))
        if (
            route is None
            or self.parser.get_http_version() != "1.1"
            or self.parser.should_upgrade()
            or not (self.cycle is None or self.cycle.response_complete)
            or not routes.accepts(self.headers, route.path, route.with_body)  # type: ignore[union-attr]
        ):
            super().on_headers_complete()
            return
        self._started = time.perf_counter()
        self._route = route
        self.cycle = _InlineCycle(self.parser.should_keep_alive())  # type: ignore[assignment]
        self._body = bytearray()

    def on_body(self, body: bytes) -> None:
        if self._body is None:
            super().on_body(body)
        else:
            self._body += body

    def on_message_complete(self) -> None:
        self._waiting = None
        self._cancel_read_timer()
        body = self._body
        if body is None:
            super().on_message_complete()
            return
        self._body = None
        route = self._route
        assert route is not None
        cycle: Any = self.cycle
        started = self._started

        def done(status: int, payload: bytes, stale: str = "") -> None:
            self._respond(cycle, route, started, status, payload, stale)

        route.handler(bytes(body), done)

    def send_400_response(self, msg: str) -> None:
        """A request the parser refuses (a request line past httptools' limits, a malformed
        head) gets the API's error shape, not uvicorn's plain text; the connection closes,
        as uvicorn closes it."""
        body = b'{"detail":"invalid HTTP request","code":"invalid_http_request"}'
        self.transport.write(
            b"%s%s%s%d\r\nconnection: close\r\n\r\n%s"
            % (STATUS_LINE[400], self._head(), _TYPE, len(body), body)
        )
        self.transport.close()

    def _head(self) -> bytes:
        """uvicorn's default headers (``date``, ``server``), joined once per change (the
        server replaces the list every second, for the date)."""
        defaults = self.server_state.default_headers
        cached, head = self._head_cache
        if cached is not defaults:
            head = b"".join(b"%s: %s\r\n" % (name, value) for name, value in defaults)
            self._head_cache = (defaults, head)
        return head

    def _respond(
        self,
        cycle: _InlineCycle,
        route: _Route,
        started: float,
        status: int,
        payload: bytes,
        stale: str = "",
    ) -> None:
        cycle.response_complete = True
        transport = self.transport
        if not transport.is_closing():
            extra = b"" if cycle.keep_alive else b"connection: close\r\n"
            if stale:  # the requested views past their freshness objective
                extra += b"%s: %s\r\n" % (_STALE, stale.encode())
            transport.write(
                b"%s%s%s%d\r\n%s\r\n%s"
                % (STATUS_LINE[status], self._head(), _TYPE, len(payload), extra, payload)
            )
            if not cycle.keep_alive:
                transport.close()
        assert self._routes is not None
        elapsed = time.perf_counter() - started
        self._routes.metrics.observe_request(route.path, route.method, status, elapsed)
        self.on_response_complete()
