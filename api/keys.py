"""API keys: the syntax of ``FEATURESTORE_API_KEYS``, their scopes, and the check.

The variable is a comma-separated list of entries, each ``[SCOPE:][sha256:]KEY``:

    s3cret                   every route (read and write)
    read:s3cret              lookups, catalog, /metrics, /docs; a write route answers 403
    write:s3cret             the write routes only (/push, /write-to-online-store)
    sha256:<64 hex digits>   a key given by its SHA-256, so the environment holding the
    read:sha256:<hex>          settings need not hold the key (``printf %s KEY | sha256sum``)

A write route is one tagged ``write`` (``api/routes/writes.py``); every other route but the
open ones (``/health``, ``/ready``) needs the read scope. So a model server's lookup key
cannot push, and a pipeline's push key cannot read features out. A key that contains
``:`` needs a scope in front of it (``read:a:b``) or its hash: the part before the first
``:`` is otherwise taken for a scope.

Keys are kept only as SHA-256 digests, the one length every comparison sees; a request's
token is hashed and compared with every key in constant time (``hmac.compare_digest``,
no early exit), so neither the time nor the answer says which keys exist. Errors about
an entry name its position, never its text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from featurestore.errors import ConfigError

READ = "read"
WRITE = "write"
SCOPES = (READ, WRITE)
WRITE_TAG = "write"  # the OpenAPI tag of the routes that need the write scope
_HEX = re.compile(r"[0-9a-fA-F]{64}")
_HASHED = "sha256"


@dataclass(frozen=True)
class ApiKey:
    scopes: frozenset[str]
    digest: bytes = field(repr=False)


def parse_api_key(entry: str, position: int = 1) -> ApiKey:
    """One entry of ``FEATURESTORE_API_KEYS``; ``position`` (from 1) names it in errors."""
    where = f"FEATURESTORE_API_KEYS entry {position}"
    scopes = frozenset(SCOPES)
    rest = entry.strip()
    head, colon, tail = rest.partition(":")
    scoped = bool(colon) and head in SCOPES
    if scoped:
        scopes, rest = frozenset({head}), tail
        head, colon, tail = rest.partition(":")
        if colon and head in SCOPES:
            raise ConfigError(f"{where}: one scope per entry (an entry without one has both)")
    if colon and head == _HASHED:
        if not _HEX.fullmatch(tail):
            raise ConfigError(f"{where}: after 'sha256:' comes a SHA-256 digest, 64 hex digits")
        return ApiKey(scopes, bytes.fromhex(tail))
    if colon and not scoped:
        raise ConfigError(
            f"{where}: the part before ':' is neither a scope ({', '.join(SCOPES)}) nor "
            "'sha256'; a key that contains ':' needs a scope in front (read:..., write:...)"
        )
    if not rest:
        raise ConfigError(f"{where}: the key after its scope is empty")
    return ApiKey(scopes, hashlib.sha256(rest.encode()).digest())


def parse_api_keys(entries: Iterable[str]) -> list[ApiKey]:
    return [parse_api_key(entry, position) for position, entry in enumerate(entries, start=1)]


def key_digests(entries: Iterable[str], scope: str = READ) -> list[bytes]:
    """The digests of the keys that grant ``scope``: what ``bearer_allowed`` compares
    against (the inline lookup route of ``api.protocol`` needs the read scope)."""
    return [key.digest for key in parse_api_keys(entries) if scope in key.scopes]


def _token(header: bytes) -> bytes:
    scheme, _, token = header.partition(b" ")
    return token.strip() if scheme.lower() == b"bearer" else b""


def bearer_allowed(digests: list[bytes], header: bytes) -> bool:
    """Whether an ``Authorization`` header carries one of the keys, compared in constant
    time (every key, no early exit)."""
    token = _token(header)
    digest = hashlib.sha256(token).digest()
    ok = False
    for key in digests:
        ok |= hmac.compare_digest(key, digest)
    return ok and bool(token)


def granted_scopes(keys: list[ApiKey], header: bytes) -> frozenset[str]:
    """The scopes the header's key grants (empty: no key, or not one of ``keys``), every
    key compared in constant time."""
    token = _token(header)
    digest = hashlib.sha256(token).digest()
    granted: set[str] = set()
    for key in keys:
        if hmac.compare_digest(key.digest, digest):
            granted |= key.scopes
    return frozenset(granted) if token else frozenset()
