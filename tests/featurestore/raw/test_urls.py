"""${VAR} expansion, passwords shown as *** and scrubbed from driver errors."""

from __future__ import annotations

import pytest

from featurestore.raw.urls import MissingVariableError, expand, safe_url, scrub


def test_expand_reads_the_environment_when_asked() -> None:
    url = "postgresql://app:${PGPASS}@h:5432/${DB}"
    assert expand(url, {"PGPASS": "p@ss", "DB": "shop"}) == "postgresql://app:p@ss@h:5432/shop"
    with pytest.raises(
        MissingVariableError, match=r"environment variable PGPASS \(used as \$\{PGPASS\}"
    ):
        expand(url, {"DB": "shop"})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:hunter2@h:5432/shop", "postgresql://app:***@h:5432/shop"),
        ("postgresql://app:${PW}@h/shop", "postgresql://app:***@h/shop"),
        (
            "postgresql://app@h/shop?password=hunter2&sslmode=require",
            "postgresql://app@h/shop?password=***&sslmode=require",
        ),
        ("postgresql://h/shop", "postgresql://h/shop"),
    ],
)
def test_safe_url(url: str, shown: str) -> None:
    assert safe_url(url) == shown


def test_scrub_every_spelling_of_the_password() -> None:
    url = "postgresql://app:p%40ss%20w@h/shop"
    text = f"failed for {url}: password 'p@ss w' (p%40ss%20w) rejected"
    cleaned = scrub(text, url)
    assert "p@ss" not in cleaned and "p%40ss" not in cleaned
    assert "postgresql://app:***@h/shop" in cleaned
