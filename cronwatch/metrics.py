"""Serving Prometheus metrics: a stand-alone ``/metrics`` server or a handler for our aiohttp apps."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    start_http_server,
)


def serve_metrics(host: str, port: int, registry: CollectorRegistry = REGISTRY) -> tuple[Any, Any]:
    """Start a background HTTP server exposing ``/metrics``; returns ``(server, thread)`` to stop it."""
    return start_http_server(port, addr=host, registry=registry)


def metrics_handler(registry: CollectorRegistry = REGISTRY) -> Any:
    """An aiohttp handler that renders ``registry`` in the Prometheus text format."""

    async def handle(_request: web.Request) -> web.Response:
        body = generate_latest(registry)
        resp = web.Response(body=body)
        resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        resp.charset = "utf-8"
        return resp

    return handle


def parse_listen(value: str, default_port: int) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``HOST`` → ``(host, port)``; IPv6 in brackets."""
    v = value.strip()
    if v.startswith("["):
        host, _, rest = v[1:].partition("]")
        port = rest.lstrip(":")
        return host, int(port) if port else default_port
    host, sep, port = v.rpartition(":")
    if not sep:
        return v, default_port
    if not port.isdigit():
        raise ValueError(f"invalid listen address {value!r}: port must be a number")
    return host or "127.0.0.1", int(port)
