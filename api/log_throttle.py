"""Logging a repeated failure once per interval, with a count, not once per request.

While Redis is down, every request fails the same way; a line each was 83,481 lines
(8.2 MB) in 25 s. ``LogThrottle`` logs a message's first occurrence at once (its format
string is what makes two messages "alike"), then at most one line per ``interval``
seconds, which says how many like it were held back since the previous line::

    online store unavailable: Timeout reading from redis:6379
    online store unavailable: Timeout reading from redis:6379 (4211 more like this in the last 10 s)

A count is reported with the next line of its kind, so a burst that stops is summed up
when the failure next happens, not on a timer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LogThrottle"]


@dataclass
class _Seen:
    logged_at: float  # when the last line of this kind was logged
    held: int = 0  # how many were not logged since


class LogThrottle:
    """At most one line per ``interval`` seconds for each message format of ``logger``."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()

    def log(self, level: int, msg: str, *args: object) -> None:
        """``logger.log(level, msg, *args)``, unless a line like it was logged less than
        ``interval`` seconds ago; then it is only counted."""
        if not self.logger.isEnabledFor(level):
            return
        now = self.clock()
        with self._lock:
            seen = self._seen.get(msg)
            if seen is not None and now - seen.logged_at < self.interval:
                seen.held += 1
                return
            held, since = (seen.held, now - seen.logged_at) if seen else (0, 0.0)
            self._seen[msg] = _Seen(logged_at=now)
        if held:
            msg += " (%d more like this in the last %.0f s)"
            args = (*args, held, since)
        self.logger.log(level, msg, *args)

    def warning(self, msg: str, *args: object) -> None:
        self.log(logging.WARNING, msg, *args)

    def error(self, msg: str, *args: object) -> None:
        self.log(logging.ERROR, msg, *args)
