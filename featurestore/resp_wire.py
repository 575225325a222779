"""RESP, Redis's wire format, for the commands we pack ourselves (no Redis client).

A command is ``*<argc>\\r\\n`` then ``$<len>\\r\\n<arg>\\r\\n`` per argument. The read path
packs whole commands; materialization packs the constant parts of a batch's commands
and joins them with per-row arguments (``featurestore.materialize.resp``).
"""

from __future__ import annotations


def bulk(argument: bytes) -> bytes:
    """One argument, packed."""
    return b"$%d\r\n%s\r\n" % (len(argument), argument)


def header(argc: int) -> bytes:
    """The start of a command of ``argc`` arguments."""
    return b"*%d\r\n" % argc


def pack_command(*parts: bytes) -> bytes:
    return header(len(parts)) + b"".join(bulk(part) for part in parts)
