"""Reading a JSON request body with a size limit, fast (orjson, no pydantic on hot paths)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.requests import ClientDisconnect

from featurestore.errors import InvalidRequestError, RequestTooLargeError


async def read_json(request: Request, limit: int) -> Any:
    """The parsed body; ``RequestTooLargeError`` past ``limit`` bytes (checked before reading
    when the client declares a length, and while reading otherwise)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLargeError(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestTooLargeError(size, limit)
            chunks.append(chunk)
    except ClientDisconnect:  # gone, or cut off by the body timeout (api.protocol)
        raise InvalidRequestError("the client disconnected") from None
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"the body is not valid JSON: {exc}") from None
