"""The HTTP/1.1 protocol our server runs: uvicorn's httptools protocol, except that
``POST /get-online-features`` is answered inline, without an ASGI request cycle.

Measured with wrk on one keep-alive connection (``bench/bench_serving.py``), the ASGI
cycle cost more than the lookup: uvicorn builds a scope, an event and a task per request,
passes every message through the middleware as a dict, and writes the response head and
body in two ``send`` calls, which on loopback means two segments and two wake-ups of the
client. This protocol parses the request with the same httptools parser, reads the body,
runs the same code as ``api.fastpath`` (``answer``), and writes the status line, headers
and body in one call. Everything else (other routes, lifespan, workers, signals, graceful
shutdown, keep-alive timeouts) stays uvicorn's; it is started with
``uvicorn --http api.protocol:InlineHttpProtocol`` (``api.serving``).

A request is answered inline only when nothing about it needs the ASGI stack; any other
request, even to the same route, takes uvicorn's path through the app, which answers it
the same way (``api.fastpath``), so the semantics never depend on this module:

- HTTP/1.1, no upgrade, no ``Expect: 100-continue``, a ``Content-Length`` within the
  body limit (anything else is a 413 or a streamed body: the ASGI path handles both);
- nothing in flight on the connection (pipelined requests keep their order: a request
  that arrives while another is answered is queued by uvicorn, as usual);
- a valid API key when keys are configured (a missing or wrong one gets the ASGI path's
  401), no ``Origin`` header when CORS is configured;
- no access log and no concurrency limit configured (uvicorn applies both per request).

Metrics are the same as the middleware's (requests by endpoint, method and status, and
their latency), counted from the end of the request head.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from api.fastpath import PATH, FastPathApp, answer_then
from api.middleware import bearer_allowed, key_digests

__all__ = ["InlineHttpProtocol"]

_PATH = PATH.encode()
_TYPE = b"content-type: application/json\r\ncontent-length: "
_NOT_INLINE = frozenset({b"transfer-encoding", b"expect"})  # streamed bodies, 100-continue


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


class _Route:
    """What the inline route needs from the app, read once per connection."""

    def __init__(self, app: FastPathApp) -> None:
        state = app.state
        api = state.api_settings
        self.lookup = state.lookup
        self.metrics = state.metrics
        self.limit: int = api.max_body_bytes
        self.digests = key_digests(api.api_keys) if api.api_keys else None
        self.cors = bool(api.cors_origins)

    def accepts(self, headers: list[tuple[bytes, bytes]]) -> bool:
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
        if length < 0 or length > self.limit:
            return False
        return self.digests is None or bearer_allowed(self.digests, authorization)


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
        self._route: _Route | None = None
        app = _find_app(self.app)
        # The lookup exists once the lifespan ran; without it, or with per-request work
        # configured in uvicorn, every request takes the ASGI path.
        if (
            app is not None
            and getattr(app.state, "lookup", None) is not None
            and self.limit_concurrency is None
            and not self.access_log
        ):
            self._route = _Route(app)
        self._body: bytearray | None = None  # the inline request's body, while it is read
        self._started = 0.0
        self._head_cache: tuple[object, bytes] = (None, b"")

    def on_message_begin(self) -> None:
        # An inline answer can complete inside ``feed_data`` (a request refused before any
        # I/O) and arm the keep-alive timer while a pipelined request is still to be parsed.
        self._unset_keepalive_if_required()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        route = self._route
        if (
            route is None
            or self.url != _PATH
            or self.parser.get_method() != b"POST"
            or self.parser.get_http_version() != "1.1"
            or self.parser.should_upgrade()
            or not (self.cycle is None or self.cycle.response_complete)
            or not route.accepts(self.headers)
        ):
            super().on_headers_complete()
            return
        self._started = time.perf_counter()
        self.cycle = _InlineCycle(self.parser.should_keep_alive())  # type: ignore[assignment]
        self._body = bytearray()

    def on_body(self, body: bytes) -> None:
        if self._body is None:
            super().on_body(body)
        else:
            self._body += body

    def on_message_complete(self) -> None:
        body = self._body
        if body is None:
            super().on_message_complete()
            return
        self._body = None
        route = self._route
        assert route is not None
        cycle: Any = self.cycle
        started = self._started

        def done(status: int, payload: bytes) -> None:
            self._respond(cycle, started, status, payload)

        answer_then(route.lookup, route.metrics, bytes(body), done)

    def _head(self) -> bytes:
        """uvicorn's default headers (``date``, ``server``), joined once per change (the
        server replaces the list every second, for the date)."""
        defaults = self.server_state.default_headers
        cached, head = self._head_cache
        if cached is not defaults:
            head = b"".join(b"%s: %s\r\n" % (name, value) for name, value in defaults)
            self._head_cache = (defaults, head)
        return head

    def _respond(self, cycle: _InlineCycle, started: float, status: int, payload: bytes) -> None:
        cycle.response_complete = True
        transport = self.transport
        if not transport.is_closing():
            close = b"" if cycle.keep_alive else b"connection: close\r\n"
            transport.write(
                b"%s%s%s%d\r\n%s\r\n%s"
                % (STATUS_LINE[status], self._head(), _TYPE, len(payload), close, payload)
            )
            if not cycle.keep_alive:
                transport.close()
        route = self._route
        assert route is not None
        route.metrics.observe_request(PATH, "POST", status, time.perf_counter() - started)
        self.on_response_complete()
