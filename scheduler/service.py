"""``cronwatch scheduler run``: wire config, state, locks, job log, loop, HTTP API and signals.

SIGTERM/SIGINT: stop starting runs, let running ones finish within ``shutdown_grace``, then kill
and log them. SIGHUP (or a change of the config file, polled every 2 s): reload; a broken file
keeps the running config and the error says why. SIGHUP also reopens the job log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from cronwatch.clock import SYSTEM_CLOCK, Clock
from cronwatch.config import read_secret
from cronwatch.errors import ConfigError
from cronwatch.metrics import parse_listen
from scheduler.api import build_app
from scheduler.engine import Scheduler
from scheduler.errors import SchedulerError
from scheduler.joblog import JobLog
from scheduler.locks import LocalLocks, Locks, RedisLocks
from scheduler.model import DEFAULT_LISTEN, SchedulerConfig, TaskSpec, load_scheduler_config
from scheduler.state import StateStore

log = logging.getLogger("cronwatch.scheduler")


class Service:
    """A running scheduler process."""

    def __init__(self, config_path: str | None, overrides: Mapping[str, Any] | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.config_path = config_path
        self.overrides = dict(overrides or {})
        self.config: SchedulerConfig = load_scheduler_config(config_path, self.overrides)
        c = self.config
        self.token = read_secret(c.api_token, c.api_token_file, "api_token")
        self.joblog = JobLog(c.resolved_log_file(), c.host_name or socket.gethostname())
        self.state = StateStore(c.state_dir, c.history_per_task)
        self.locks: Locks = (RedisLocks(c.redis_url.get_secret_value(), c.redis_prefix) if c.redis_url
                             else LocalLocks())
        self.sched = Scheduler(self.joblog, state=self.state, locks=self.locks, clock=clock,
                               max_line_bytes=c.max_line_bytes, manage_gc=True)
        self._mtime = self._config_mtime()
        self._stop = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.address: tuple[str, int] | None = None

    def _config_mtime(self) -> float | None:
        if self.config_path is None:
            return None
        try:
            return os.stat(self.config_path).st_mtime
        except OSError:
            return None

    def load_tasks(self) -> None:
        """API tasks from the state, then the config's tasks (a config task wins a name clash)."""
        config_names = {t.name for t in self.config.tasks}
        for spec in self.sched.restore():
            if spec.name in config_names:
                log.warning("API task %s is shadowed by a config task of the same name", spec.name)
                continue
            self.sched.add(spec, "api")
        for spec in self.config.tasks:
            self.sched.add(spec, "config")

    def reload(self, reason: str) -> bool:
        """Re-read the config file and apply task changes; on error keep the running config."""
        try:
            new = load_scheduler_config(self.config_path, self.overrides)
        except ConfigError as exc:
            log.error("config reload (%s) failed; keeping the running config: %s", reason, "; ".join(exc.problems),
                      extra={"error.type": "ConfigError", "error.message": "\n".join(exc.problems)})
            return False
        sched = self.sched
        wanted: dict[str, TaskSpec] = {t.name: t for t in new.tasks}
        for name, entry in list(sched.tasks.items()):
            if entry.source == "config" and name not in wanted:
                sched.remove(name, source="config")
        changed = 0
        for name, spec in wanted.items():
            current = sched.tasks.get(name)
            try:
                if current is None:
                    sched.add(spec, "config")
                elif current.source == "api":
                    log.error("config task %s clashes with an API task of the same name; not loaded", name)
                    continue
                elif current.spec != spec:
                    if (current.spec.schedule, current.spec.timezone) != (spec.schedule, spec.timezone):
                        current.last_slot = None
                    sched.update(spec, source="config")
                else:
                    continue
            except SchedulerError as exc:
                log.error("config reload: task %s: %s", name, exc)
                continue
            changed += 1
        for key in ("listen", "redis_url", "state_dir", "log_file", "api_token", "api_token_file"):
            if getattr(new, key) != getattr(self.config, key):
                log.warning("config reload: %s changed; restart the scheduler to apply it", key)
        self.config = new
        log.info("config reloaded (%s): %d task(s), %d added or changed", reason, len(new.tasks), changed)
        return True

    def _housekeeping(self, _now: float) -> None:
        self.joblog.reopen_if_moved()
        mtime = self._config_mtime()
        if mtime is not None and mtime != self._mtime:
            self._mtime = mtime
            self.reload("file changed")

    def _on_hup(self) -> None:
        self.joblog.reopen()
        self._mtime = self._config_mtime()
        self.reload("SIGHUP")

    def request_stop(self) -> None:
        """Begin a graceful shutdown."""
        self._stop.set()

    async def start(self, listen: str | None = None) -> None:
        """Load tasks, start the loop and the HTTP server."""
        self.load_tasks()
        self.sched.housekeeping.append(self._housekeeping)
        self._loop_task = asyncio.ensure_future(self.sched.run())
        host, port = parse_listen(listen or self.config.listen, int(DEFAULT_LISTEN.rsplit(":", 1)[1]))
        self.runner = web.AppRunner(build_app(self.sched, self.token), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.address = sockets[0].getsockname()[:2] if sockets else (host, port)
        if self.token is None and host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("the task API on %s:%s has no api_token: anyone who can reach it can run commands", host, port)
        log.info("scheduler listening on http://%s:%s with %d task(s)", self.address[0], self.address[1],
                 len(self.sched.tasks), extra={"log.file.path": str(self.joblog.path)})

    async def stop(self) -> None:
        """Graceful shutdown: drain runs, stop the server, close state, locks and log."""
        grace = self.config.shutdown_grace.total_seconds()
        log.info("scheduler stopping; waiting up to %gs for running tasks", grace)
        await self.sched.drain(grace)
        with contextlib.suppress(asyncio.CancelledError):
            await self._loop_task
        if self.runner is not None:
            await self.runner.cleanup()
        self.sched.driver.detach()
        await self.locks.close()
        self.state.close()
        self.joblog.close()

    async def serve(self, listen: str | None = None) -> None:
        """Run until SIGTERM/SIGINT; SIGHUP reloads."""
        loop = asyncio.get_running_loop()
        await self.start(listen)
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)
        try:
            await self._stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self.stop()
