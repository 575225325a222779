"""The online store's address: a ``redis://host:port/db`` URL and what it names.

The project file names it (``online_store: redis_url:``); ``FEATURESTORE_REDIS_URL``
wins over it. The default, ``redis://127.0.0.1:6399/0``, is the local Redis that
``featurestore redis start`` runs. ``FEATURESTORE_REDIS_TIMEOUT`` (seconds, default 1.0)
bounds every Redis call of every path: lookups, writes, materialization, the CLI's.

    redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
    rediss://[[USER]:PASSWORD@]HOST[:PORT][/DB][?ssl_ca_certs=CA.pem]
    rediss://...?ssl_ca_certs=CA.pem&ssl_certfile=CERT.pem&ssl_keyfile=KEY.pem

    redis+cluster://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...][/0]     (or redis-cluster://)
    rediss+cluster://...[?ssl_ca_certs=CA.pem...]                        TLS to every node
    redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]   (or redis-sentinel://)
    rediss+sentinel://...                                                TLS to the master

A cluster URL lists some of the cluster's nodes (any one that answers tells the rest);
its only database is 0. A sentinel URL lists sentinels (default port 26379) and names
the master they watch; the user, password and TLS are the master's (and its replicas'),
the sentinels are asked without them, as redis-py's and Feast's Sentinel clients do.

A user and password are sent with ``AUTH`` (percent-encode ``@ : / %`` in them).
``rediss://`` is TLS, with the server's certificate checked against the system's CAs, or
against ``ssl_ca_certs`` (a PEM file); ``ssl_certfile`` and ``ssl_keyfile`` are a client
certificate, for a server that asks for one (``tls-auth-clients yes``). Every client
builds its connection from ``RedisAddress``: redis-py (``redis_kwargs``,
``connection_kwargs``), our RESP client (``ssl_context``) and Feast's Redis store
(``feast_online_settings``: its ``connection_string``, ``redis_type`` and
``sentinel_master``).
"""

from __future__ import annotations

import json
import os
import ssl as ssl_module
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, TypedDict
from urllib.parse import parse_qsl, unquote, urlparse, urlsplit

from featurestore.errors import ConfigError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6399/0"
DEFAULT_REDIS_TIMEOUT = 1.0


TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
DEFAULT_SENTINEL_PORT = 26379

Topology = Literal["single", "cluster", "sentinel"]
# scheme -> (topology, TLS)
_SCHEMES: dict[str, tuple[Topology, bool]] = {
    "redis": ("single", False),
    "rediss": ("single", True),
    **{f"redis{sep}cluster": ("cluster", False) for sep in "+-"},
    **{f"rediss{sep}cluster": ("cluster", True) for sep in "+-"},
    **{f"redis{sep}sentinel": ("sentinel", False) for sep in "+-"},
    **{f"rediss{sep}sentinel": ("sentinel", True) for sep in "+-"},
}
_FORMS = (
    "redis://host:port/db, redis+cluster://host:port,host:port/0 or "
    "redis+sentinel://host:port,host:port/master/db"
)


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
    topology: Topology = "single"
    nodes: tuple[tuple[str, int], ...] = ()  # a cluster's startup nodes, or the sentinels
    master_name: str | None = None  # the sentinels' name of the master

    def __repr__(self) -> str:  # never print the password
        password = None if self.password is None else "***"
        where = "" if self.topology == "single" else f"topology={self.topology!r}, "
        if self.topology != "single":
            where += f"nodes={list(self.nodes)!r}, "
        if self.master_name is not None:
            where += f"master_name={self.master_name!r}, "
        return (
            f"RedisAddress({where}host={self.host!r}, port={self.port}, db={self.db}, "
            f"username={self.username!r}, password={password!r}, ssl={self.ssl})"
        )

    @property
    def is_cluster(self) -> bool:
        return self.topology == "cluster"

    @property
    def is_sentinel(self) -> bool:
        return self.topology == "sentinel"

    def node(self, host: str, port: int) -> RedisAddress:
        """The single Redis at ``host:port`` with this address's login, TLS and db (a
        cluster node, the master a sentinel named)."""
        return replace(self, host=host, port=port, topology="single", nodes=(), master_name=None)

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
        return {"host": self.host, "port": self.port, **self.connection_kwargs()}

    def connection_kwargs(self) -> dict[str, Any]:
        """The login, TLS and database of every connection, without host and port (for
        ``redis.RedisCluster``, which takes no ``db``, and ``redis.Sentinel``'s master)."""
        kwargs: dict[str, Any] = {} if self.is_cluster else {"db": self.db}
        kwargs |= {
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

    def feast_online_settings(self) -> dict[str, str]:
        """Feast's Redis online store settings for this address: ``connection_string``,
        ``redis_type`` (``redis``, ``redis_cluster``, ``redis_sentinel``) and, for a
        sentinel, ``sentinel_master``."""
        settings = {"connection_string": self.feast_connection_string()}
        settings["redis_type"] = {
            "single": "redis",
            "cluster": "redis_cluster",
            "sentinel": "redis_sentinel",
        }[self.topology]
        if self.master_name is not None:
            settings["sentinel_master"] = self.master_name
        return settings

    def feast_connection_string(self) -> str:
        """The same address in the ``host:port,db=N,...`` form Feast's Redis store expects
        (a cluster's nodes, or the sentinels, one ``host:port`` each and no ``db`` for a
        cluster).

        Feast splits the string at commas and reads each value as JSON when it can, so
        values are written as JSON strings (a password ``123`` or ``null`` stays a
        string) and a value with a comma cannot be written at all."""
        if self.topology == "single":
            parts = [f"{self.host}:{self.port}", f"db={self.db}"]
        else:
            parts = [f"{host}:{port}" for host, port in self.nodes]
            if not self.is_cluster:
                parts.append(f"db={self.db}")
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
    """The address a Redis URL names; a malformed one is one ``ConfigError`` line that
    shows the URL without its password."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    topology, _ = _SCHEMES.get(scheme, ("single", False))
    if topology != "single":
        return _parse_multi(url, scheme)
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        raise ConfigError(
            "the Redis URL (online_store.redis_url in featurestore.yaml, or "
            f"FEATURESTORE_REDIS_URL) must look like {_FORMS}, got {_safe_url(url)!r}"
        )
    if "," in parsed.netloc.rpartition("@")[2]:
        raise ConfigError(
            f"bad Redis URL {_safe_url(url)!r}: several hosts need redis+cluster:// or "
            "redis+sentinel://"
        )
    path = parsed.path.lstrip("/")
    try:
        db = int(path) if path else 0
        port = parsed.port or 6379
    except ValueError as exc:
        from featurestore.raw.urls import scrub

        raise ConfigError(f"bad Redis URL {_safe_url(url)!r}: {scrub(str(exc), url)}") from None
    return RedisAddress(
        host=parsed.hostname,
        port=port,
        db=db,
        password=None if parsed.password is None else unquote(parsed.password),
        ssl=parsed.scheme == "rediss",
        username=unquote(parsed.username) if parsed.username else None,
        **_tls_options(url, parsed.query, parsed.scheme == "rediss"),
    )


class _TLSFiles(TypedDict, total=False):
    ssl_ca_certs: str | None
    ssl_certfile: str | None
    ssl_keyfile: str | None


def _tls_options(url: str, query: str, ssl: bool, tls_scheme: str = "rediss") -> _TLSFiles:
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(options) - set(TLS_OPTIONS))
    if unknown or (options and not ssl):
        problem = f"unknown options {unknown}" if unknown else f"TLS options need {tls_scheme}://"
        raise ConfigError(
            f"bad Redis URL {_safe_url(url)!r}: {problem} (it takes "
            f"{', '.join(TLS_OPTIONS)}, with {tls_scheme}://)"
        )
    files: _TLSFiles = {}
    for name in TLS_OPTIONS:
        if name in options:
            files[name] = options[name] or None  # type: ignore[literal-required]
    return files


def _parse_multi(url: str, scheme: str) -> RedisAddress:
    """A ``redis+cluster://`` or ``redis+sentinel://`` URL: several ``host:port``, and
    for a sentinel the master's name."""
    topology, ssl = _SCHEMES[scheme]
    kind = "Redis Cluster" if topology == "cluster" else "Redis Sentinel"

    def bad(problem: str) -> ConfigError:
        return ConfigError(f"bad {kind} URL {_safe_url(url)!r}: {problem}")

    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    default_port = DEFAULT_SENTINEL_PORT if topology == "sentinel" else 6379
    nodes: list[tuple[str, int]] = []
    for item in hosts.split(","):
        try:
            node = urlsplit(f"//{item}")
            host, port = node.hostname, node.port or default_port
        except ValueError:
            host, port = None, 0
        if not item or not host or "@" in item:
            raise bad(f"{item!r} is not a host:port (list them as host:port,host:port)")
        if (host, port) not in nodes:
            nodes.append((host, port))
    segments = [segment for segment in parts.path.split("/") if segment]
    master: str | None = None
    if topology == "sentinel":
        if not segments:
            raise bad("it needs the master's name: redis+sentinel://host:port/MASTER/db")
        master = unquote(segments.pop(0))
    if len(segments) > 1:
        raise bad(f"unexpected path {parts.path!r}")
    try:
        db = int(segments[0]) if segments else 0
    except ValueError:
        raise bad(f"the database must be a number, got {segments[0]!r}") from None
    if topology == "cluster" and db != 0:
        raise bad(f"a Redis Cluster has only database 0, got {db}")
    return RedisAddress(
        host=nodes[0][0],
        port=nodes[0][1],
        db=db,
        password=password,
        ssl=ssl,
        username=username,
        topology=topology,
        nodes=tuple(nodes),
        master_name=master,
        **_tls_options(url, parts.query, ssl, f"rediss+{topology}"),
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
