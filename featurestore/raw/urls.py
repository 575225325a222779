"""Database URLs and their secrets: ``${VAR}`` expansion, display without passwords, scrubbing.

A project file keeps its passwords out of the file by writing ``${VAR}`` in a url; the
variable is read from the environment only when connecting (``expand``), so parsing and
describing a project need no secret, and an unset variable is an error naming it.
``safe_url`` is the url for people: its password (written, or from a variable) shows as
``***``, and so does a ``password=`` query parameter. ``scrub`` takes a driver's error
text and replaces every form of the secrets in it (the expanded url, the password, its
percent-encoded form) with ``***``, so that no password reaches a message or a log.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "***"


class MissingVariableError(LookupError):
    """A ``${VAR}`` of a url is not set in the environment."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"environment variable {name} (used as ${{{name}}} in its url) is not set")


def variable_problems(url: str) -> list[str]:
    """What is wrong with the ``${...}`` of ``url``: a ``${`` that is no ``${NAME}``."""
    rest = VARIABLE.sub("", url)
    if "${" in rest:
        return ["a '${' that does not start a ${NAME} (letters, digits, _)"]
    return []


def expand(url: str, environ: Mapping[str, str] | None = None) -> str:
    """``url`` with each ``${VAR}`` replaced by its value; ``MissingVariableError`` if unset."""
    env = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise MissingVariableError(name)
        return env[name]

    return VARIABLE.sub(value, url)


def safe_url(url: str) -> str:
    """``url`` with its password and any ``password=`` parameter shown as ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            if ":" in userinfo:
                userinfo = userinfo.split(":", 1)[0] + ":" + MASK
            netloc = f"{userinfo}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            masked = [(k, MASK if k.lower() == "password" else v) for k, v in pairs]
            query = urlencode(masked, safe="*/")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return f"{url.split(':', 1)[0]}://{MASK}"


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's error) without the secrets of the expanded ``url``.

    The url itself becomes its ``safe_url``; then its password, percent-encoded or not,
    and any ``password=`` parameter, become ``***`` wherever else they appear.
    """
    text = text.replace(url, safe_url(url))
    try:
        parts = urlsplit(url)
        passwords = [parts.password or ""]
        passwords += [v for k, v in parse_qsl(parts.query) if k.lower() == "password"]
    except ValueError:
        passwords = []
    spellings = {
        form
        for password in passwords
        if password
        for form in (password, unquote(password), quote(password, safe=""), quote(password))
    }
    for secret in sorted(spellings, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
