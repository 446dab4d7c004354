"""Running the alerter: engine + HTTP API + pollers, reload on SIGHUP or ``POST /-/reload``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from aiohttp import web

from alerter.api import make_app
from alerter.config import load_alerter_config
from alerter.engine import Engine
from alerter.sources import PrometheusPoller
from cronwatch.errors import ConfigError

log = logging.getLogger("cronwatch.alerter")


class Server:
    """A running alerter bound to ``host:port``."""

    def __init__(self, config_path: Path, host: str, port: int) -> None:
        self.config_path = config_path
        self.host, self.port = host, port
        self.engine = Engine(load_alerter_config(config_path))
        self.runner: web.AppRunner | None = None
        self.pollers: list[asyncio.Task[None]] = []

    def _start_pollers(self) -> None:
        for t in self.pollers:
            t.cancel()
        self.pollers = [asyncio.create_task(PrometheusPoller(self.engine, src, self.engine.http).run())
                        for src in self.engine.cfg.sources.prometheus]

    async def start(self) -> None:
        """Bind the API and start the loop."""
        app = make_app(self.engine, lambda: load_alerter_config(self.config_path))
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        await self.engine.start()
        self._start_pollers()
        log.info("alerter listening", extra={"url.full": f"http://{self.host}:{self.port}"})

    def sighup(self) -> None:
        """Reload the configuration; a bad one is logged and the old one stays."""
        try:
            self.engine.apply(load_alerter_config(self.config_path))
        except ConfigError as exc:
            self.engine.metrics.config_ok.set(0)
            log.error("configuration not reloaded", extra={"alerter.problems": exc.problems})
            return
        self.engine.metrics.config_ok.set(1)
        self._start_pollers()
        log.info("configuration reloaded")

    async def stop(self) -> None:
        for t in self.pollers:
            t.cancel()
        if self.runner is not None:
            await self.runner.cleanup()
        await self.engine.stop()


async def serve(config_path: Path, host: str, port: int) -> None:
    """Run until SIGINT/SIGTERM."""
    server = Server(config_path, host, port)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGHUP, server.sighup)
    try:
        await stop.wait()
    finally:
        await server.stop()
