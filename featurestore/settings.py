"""The online store's address: a ``redis://host:port/db`` URL and what it names.

The project file names it (``online_store: redis_url:``); ``FEATURESTORE_REDIS_URL``
wins over it. The default, ``redis://127.0.0.1:6399/0``, is the local Redis that
``featurestore redis start`` runs. ``FEATURESTORE_REDIS_TIMEOUT`` (seconds, default 1.0)
bounds every Redis call of every path: lookups, writes, materialization, the CLI's.

    redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
    rediss://[[USER]:PASSWORD@]HOST[:PORT][/DB][?ssl_ca_certs=CA.pem]
    rediss://...?ssl_ca_certs=CA.pem&ssl_certfile=CERT.pem&ssl_keyfile=KEY.pem

A user and password are sent with ``AUTH`` (percent-encode ``@ : / %`` in them).
``rediss://`` is TLS, with the server's certificate checked against the system's CAs, or
against ``ssl_ca_certs`` (a PEM file); ``ssl_certfile`` and ``ssl_keyfile`` are a client
certificate, for a server that asks for one (``tls-auth-clients yes``). Every client
builds its connection from ``RedisAddress``: redis-py (``redis_kwargs``), our RESP client
(``ssl_context``) and Feast's Redis store (``feast_connection_string``).
"""

from __future__ import annotations

import json
import os
import ssl as ssl_module
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse

from featurestore.errors import ConfigError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6399/0"
DEFAULT_REDIS_TIMEOUT = 1.0


TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")


@dataclass(frozen=True)
class RedisAddress:
    host: str
    port: int
    db: int
    password: str | None
    ssl: bool
    username: str | None = None
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def __repr__(self) -> str:  # never print the password
        password = None if self.password is None else "***"
        return (
            f"RedisAddress(host={self.host!r}, port={self.port}, db={self.db}, "
            f"username={self.username!r}, password={password!r}, ssl={self.ssl})"
        )

    @property
    def is_local(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1")

    def ssl_context(self) -> ssl_module.SSLContext | None:
        """The TLS context of a ``rediss://`` address (None for ``redis://``)."""
        if not self.ssl:
            return None
        try:
            context = ssl_module.create_default_context(cafile=self.ssl_ca_certs)
            if self.ssl_certfile:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        except (OSError, ssl_module.SSLError) as exc:
            raise ConfigError(f"the Redis URL's TLS files cannot be used: {exc}") from None
        return context

    def redis_kwargs(self) -> dict[str, Any]:
        """The address as ``redis.Redis`` keyword arguments."""
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "username": self.username,
            "password": self.password,
            "ssl": self.ssl,
        }
        if self.ssl:
            kwargs.update(
                ssl_ca_certs=self.ssl_ca_certs,
                ssl_certfile=self.ssl_certfile,
                ssl_keyfile=self.ssl_keyfile,
            )
        return kwargs

    def feast_connection_string(self) -> str:
        """The same address in the ``host:port,db=N,...`` form Feast's Redis store expects.

        Feast splits the string at commas and reads each value as JSON when it can, so
        values are written as JSON strings (a password ``123`` or ``null`` stays a
        string) and a value with a comma cannot be written at all."""
        parts = [f"{self.host}:{self.port}", f"db={self.db}"]
        options = {
            "username": self.username,
            "password": self.password,
            **({name: getattr(self, name) for name in TLS_OPTIONS} if self.ssl else {}),
        }
        for name, value in options.items():
            if value is None:
                continue
            if "," in value:
                raise ConfigError(
                    f"the Redis URL's {name} contains a ',', which Feast's Redis connection "
                    "string cannot carry"
                )
            parts.append(f"{name}={json.dumps(value)}")
        if self.ssl:
            parts.append("ssl=true")
        return ",".join(parts)


def parse_redis_url(url: str) -> RedisAddress:
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        raise ConfigError(
            "the Redis URL (online_store.redis_url in featurestore.yaml, or "
            f"FEATURESTORE_REDIS_URL) must look like redis://host:port/db, got "
            f"{_safe_url(url)!r}"
        )
    path = parsed.path.lstrip("/")
    try:
        db = int(path) if path else 0
        port = parsed.port or 6379
    except ValueError as exc:
        from featurestore.raw.urls import scrub

        raise ConfigError(f"bad Redis URL {_safe_url(url)!r}: {scrub(str(exc), url)}") from None
    options = dict(parse_qsl(parsed.query, keep_blank_values=True))
    unknown = sorted(set(options) - set(TLS_OPTIONS))
    if unknown or (options and parsed.scheme != "rediss"):
        problem = f"unknown options {unknown}" if unknown else "TLS options need rediss://"
        raise ConfigError(
            f"bad Redis URL {_safe_url(url)!r}: {problem} (it takes "
            f"{', '.join(TLS_OPTIONS)}, with rediss://)"
        )
    return RedisAddress(
        host=parsed.hostname,
        port=port,
        db=db,
        password=None if parsed.password is None else unquote(parsed.password),
        ssl=parsed.scheme == "rediss",
        username=unquote(parsed.username) if parsed.username else None,
        **{name: options[name] or None for name in TLS_OPTIONS if name in options},
    )


def _safe_url(url: str) -> str:
    """The URL as it may be shown (its password as ``***``), by the one masking helper
    that raw sources' URLs use; imported only when an error is shown."""
    from featurestore.raw.urls import safe_url

    return safe_url(url)


def redis_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("FEATURESTORE_REDIS_URL") or DEFAULT_REDIS_URL


def redis_timeout_from_env(environ: Mapping[str, str] | None = None) -> float:
    """``FEATURESTORE_REDIS_TIMEOUT``: the seconds any Redis call may wait (connect or reply)."""
    env = os.environ if environ is None else environ
    raw = env.get("FEATURESTORE_REDIS_TIMEOUT") or ""
    if not raw:
        return DEFAULT_REDIS_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise ConfigError(f"FEATURESTORE_REDIS_TIMEOUT must be a positive number, got {raw!r}")
    return value
