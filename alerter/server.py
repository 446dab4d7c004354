"""Running the alerter: engine + HTTP API + pollers, reload on SIGHUP or ``POST /-/reload``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from pathlib import Path

from aiohttp import web

from alerter.api import make_app
from alerter.config import load_alerter_config
from alerter.engine import Engine
from alerter.sources import PrometheusPoller
from cronwatch.errors import ConfigError

log = logging.getLogger("cronwatch.alerter")
FULL_GC_EVERY = 300.0  # seconds between full garbage collections (see GcPolicy)


class GcPolicy:
    """When the process runs CPython's full (generation 2) collections.

    A full collection walks every tracked object: with tens of thousands of alerts, groups and log
    entries it stops the event loop for 50-100 ms, and CPython starts one whenever the long-lived
    heap grew by a quarter — during a burst of new alerts, i.e. exactly when notifications are in
    flight. So: what exists at start-up (modules, configuration, silences) is frozen out of
    collections (and refrozen after a reload, which collects first); automatic collections stay
    young-generation only; a full collection runs from the server's one-second tick every ``every``
    seconds (cyclic garbage waits at most that long — a storm leaves only a handful of such
    objects). Reference counting still frees everything else at once. Process-wide, so only the
    server (its own process) uses it, never the in-process engines of the tests.
    """

    def __init__(self, every: float = FULL_GC_EVERY) -> None:
        self.every = every
        self.last = time.monotonic()
        self._saved = gc.get_threshold()

    def install(self) -> None:
        gc.collect()
        gc.freeze()
        young, middle, _ = self._saved
        gc.set_threshold(young, middle, 1_000_000_000)  # never start a full collection by itself
        self.last = time.monotonic()

    def tick(self) -> None:
        """Run the periodic full collection when it is due."""
        if time.monotonic() - self.last >= self.every:
            gc.collect()
            self.last = time.monotonic()

    def refreeze(self) -> None:
        """After a reload: collect what the old configuration left, freeze the new one."""
        gc.unfreeze()
        self.install()

    def uninstall(self) -> None:
        gc.set_threshold(*self._saved)
        gc.unfreeze()


class Server:
    """A running alerter bound to ``host:port``."""

    def __init__(self, config_path: Path, host: str, port: int) -> None:
        self.config_path = config_path
        self.host, self.port = host, port
        self.engine = Engine(load_alerter_config(config_path))
        self.runner: web.AppRunner | None = None
        self.pollers: list[asyncio.Task[None]] = []
        self.gc = GcPolicy()
        self._gc_task: asyncio.Task[None] | None = None

    def _generation(self) -> tuple[object, object]:
        """What a reload replaces (the configuration, the silences): compared by identity."""
        return self.engine.cfg, self.engine.silence_file.index if self.engine.silence_file else None

    async def _gc_ticks(self) -> None:
        """Once a second: the periodic full collection; refreeze after any reload (SIGHUP, POST
        /-/reload, an edited silences file), once."""
        seen = self._generation()
        while True:
            await asyncio.sleep(1.0)
            now = self._generation()
            if now[0] is not seen[0] or now[1] is not seen[1]:
                seen = now
                self.gc.refreeze()
            else:
                self.gc.tick()

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
        self.gc.install()
        self._gc_task = asyncio.create_task(self._gc_ticks())
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
        if self._gc_task is not None:
            self._gc_task.cancel()
        self.gc.uninstall()
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
