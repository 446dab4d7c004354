"""Small pieces every cronwatch HTTP API shares (aiohttp): token checks, body limits, JSON errors.

Mutating requests (POST, PUT, PATCH, DELETE) need ``Authorization: Bearer <token>`` when a
token is configured; the comparison is constant-time and the token is never echoed.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_MAX_BODY = 1 << 20


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response encoded with orjson."""
    return web.Response(body=orjson.dumps(data, default=str), status=status, content_type="application/json")


def json_error(status: int, message: str) -> web.Response:
    """``{"error": message}`` with ``status``."""
    return json_response({"error": message, "code": status}, status=status)


def token_middleware(token: str | None, *, protect_reads: bool = False) -> Any:
    """Require the bearer ``token`` on mutating requests (and reads, when ``protect_reads``)."""
    expected = f"Bearer {token}".encode() if token else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected is not None and (request.method in MUTATING or protect_reads):
            got = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(got, expected):
                return json_error(401, "missing or invalid bearer token")
        return await handler(request)

    return middleware


async def read_json(request: web.Request, max_bytes: int = DEFAULT_MAX_BODY) -> Any:
    """Read and decode a JSON body; too large → 413, malformed → 400 (as ``web.HTTPException``)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=request.content_length,
                                            text=f"request body larger than {max_bytes} bytes")
    body = await request.content.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=len(body),
                                            text=f"request body larger than {max_bytes} bytes")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise web.HTTPBadRequest(text=f"request body is not valid JSON: {exc}") from None
