"""The syntax of ``FEATURESTORE_API_KEYS`` entries and the constant-time check."""

from __future__ import annotations

import hashlib

import pytest

from api.keys import (
    READ,
    WRITE,
    bearer_allowed,
    granted_scopes,
    key_digests,
    parse_api_key,
    parse_api_keys,
)
from api.settings import ApiSettings
from featurestore.errors import ConfigError

HEX = hashlib.sha256(b"k3y").hexdigest()


@pytest.mark.parametrize(
    ("entry", "scopes", "key"),
    [
        ("k3y", {READ, WRITE}, "k3y"),
        (" read:k3y ", {READ}, "k3y"),
        ("write:k3y", {WRITE}, "k3y"),
        ("read:a:b", {READ}, "a:b"),  # a scope in front lets the key hold ':'
        (f"sha256:{HEX}", {READ, WRITE}, "k3y"),
        (f"read:sha256:{HEX.upper()}", {READ}, "k3y"),
    ],
)
def test_entries(entry: str, scopes: set[str], key: str) -> None:
    parsed = parse_api_key(entry)
    assert parsed.scopes == scopes
    assert parsed.digest == hashlib.sha256(key.encode()).digest()
    assert HEX not in repr(parsed) and "k3y" not in repr(parsed)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("admin:s3cret-part", "neither a scope"),
        ("read:write:s3cret-part", "one scope per entry"),
        ("read:", "empty"),
        ("sha256:s3cret-part", "64 hex digits"),
        (f"sha256:{HEX}00", "64 hex digits"),
    ],
)
def test_bad_entries_are_named_by_position_never_by_text(entry: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        parse_api_keys(["fine", entry])
    message = str(caught.value)
    assert message.startswith("FEATURESTORE_API_KEYS entry 2:")
    assert "s3cret" not in message and "admin" not in message and HEX not in message


def test_settings_are_checked_when_built() -> None:
    with pytest.raises(ConfigError, match="entry 1"):
        ApiSettings.from_env({"FEATURESTORE_API_KEYS": "nope:x"})
    with pytest.raises(ConfigError, match="entry 1"):
        ApiSettings(api_keys=("sha256:abc",))


def test_the_check_wants_a_bearer_token_of_a_key_with_the_scope() -> None:
    entries = ["read:r-key", "write:w-key", "both-key", f"sha256:{HEX}"]
    keys = parse_api_keys(entries)
    assert granted_scopes(keys, b"Bearer r-key") == {READ}
    assert granted_scopes(keys, b"bearer w-key ") == {WRITE}
    assert granted_scopes(keys, b"Bearer k3y") == {READ, WRITE}
    for header in (b"", b"Bearer ", b"Basic both-key", b"Bearer both", b"Bearer " + HEX.encode()):
        assert granted_scopes(keys, header) == frozenset()
    # What the inline lookup route of api.protocol compares against: the read keys.
    readers = key_digests(entries)
    assert [bearer_allowed(readers, b"Bearer " + k) for k in (b"r-key", b"w-key", b"k3y")] == [
        True,
        False,
        True,
    ]
    assert not bearer_allowed(readers, b"Bearer ")
