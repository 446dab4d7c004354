"""The engine: ingest → store → route into groups → flush (mute, dedup, deliver) on timers.

Time is read from the injected clock once per tick and passed down; decisions live in
:mod:`alerter.dispatch`, :mod:`alerter.notify` and the mute modules. Tests drive the engine with
:meth:`Engine.run_due` and a :class:`~cronwatch.clock.FakeClock`; ``start()`` runs the real loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from redis.exceptions import RedisError

from alerter.cluster import SharedLog
from alerter.config import AlerterConfig
from alerter.dispatch import (
    Group,
    first_flush_at,
    flush_after_insert,
    is_due,
    next_flush_after_flush,
    settle_after_flush,
)
from alerter.inhibit import Inhibitor
from alerter.metrics import AlerterMetrics
from alerter.model import Alert, BuildContext, Integration, Notification
from alerter.nflog import NotificationLog, entry_key
from alerter.notify import Deliverer, IntegrationStatus, Slot, needs_update
from alerter.route import RouteOpts, Router
from alerter.sessions import SessionPool
from alerter.silencefile import SilenceFile
from alerter.silences import SilenceIndex
from alerter.store import AlertStore
from cronwatch.clock import SYSTEM_CLOCK, Clock
from cronwatch.errors import ConfigError
from cronwatch.retry import Backoff

log = logging.getLogger("cronwatch.alerter")
KEEP_RESOLVED = timedelta(minutes=15)
SWEEP_EVERY = 15.0  # seconds between sweeps of resolved alerts and old notification-log entries


def common(maps: list[dict[str, str]]) -> dict[str, str]:
    """The key/value pairs every map shares."""
    if not maps:
        return {}
    out = dict(maps[0])
    for m in maps[1:]:
        out = {k: v for k, v in out.items() if m.get(k) == v}
    return out


def build_integrations(cfg: AlerterConfig, ctx: BuildContext) -> dict[str, list[tuple[int, Integration]]]:
    """Build every receiver's integrations; all problems are one ConfigError naming receiver and entry."""
    out: dict[str, list[tuple[int, Integration]]] = {}
    problems: list[str] = []
    where = cfg.source_path or "alerter.yml"
    for i, rec in enumerate(cfg.receivers):
        out[rec.name] = []
        for fname, idx, icfg in rec.integration_configs():
            try:
                out[rec.name].append((idx, icfg.build(ctx)))
            except ConfigError as exc:
                problems += [f"{where}: receivers[{i}].{fname}[{idx}]: {p}" for p in exc.problems]
            except (OSError, ValueError) as exc:
                problems.append(f"{where}: receivers[{i}].{fname}[{idx}]: {exc}")
    if problems:
        raise ConfigError(problems)
    return out


async def close_all(resources: list[Any]) -> None:
    """``aclose()`` each resource (integration, shared log) that has one; a failure is logged, never raised."""
    for res in resources:
        aclose = getattr(res, "aclose", None)
        if aclose is None:
            continue
        try:
            await aclose()
        except Exception:
            log.exception("closing a replaced resource failed", extra={"alerter.resource": repr(res)})


class Engine:
    """One alerter instance."""

    def __init__(self, cfg: AlerterConfig, *, clock: Clock = SYSTEM_CLOCK, http: httpx.AsyncClient | None = None,
                 metrics: AlerterMetrics | None = None, state_dir: Path | None = None) -> None:
        self.clock = clock
        self.metrics = metrics or AlerterMetrics()
        self.http = http or httpx.AsyncClient(timeout=10.0, follow_redirects=True)
        self._own_http = http is None
        self.sessions = SessionPool()
        self.state_dir = state_dir or cfg.path(cfg.state_dir)
        self.nflog = NotificationLog(self.state_dir / "nflog.sqlite", cfg.delivery.nflog_retention)
        self.store = AlertStore()
        self.groups: dict[str, Group] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self.silence_file: SilenceFile | None = None
        # API edits of the silences file, one at a time, each on a thread: a round trip of the whole
        # file (comments kept) takes about a second with 1,000 silences, the loop keeps running meanwhile
        self.silence_edits = asyncio.Lock()
        self.slots: dict[str, list[Slot]] = {}
        self.shared: SharedLog | None = None
        self._retired: list[Any] = []  # replaced by a reload (integrations, shared log); closed at stop()
        self.started_at = clock.now()
        self.ready = False
        self.metrics.watch_states(self.state_counts)
        self.cfg = cfg
        self.apply(cfg)

    # --- configuration ----------------------------------------------------------------------

    def apply(self, cfg: AlerterConfig) -> None:
        """Switch to ``cfg`` as a whole, or raise ConfigError and keep the running configuration."""
        ctx = BuildContext(http=self.http, clock=self.clock, state_dir=self.state_dir,
                           external_url=cfg.external_url,
                           extra={"config_dir": cfg.base_dir, "config": cfg, "sessions": self.sessions})
        built = build_integrations(cfg, ctx)
        path = cfg.path(cfg.silences_file) if cfg.silences_file else self.state_dir / "silences.yml"
        silence_file = self.silence_file
        if silence_file is None or silence_file.path != path:
            silence_file = SilenceFile(path)
            silence_file.load()  # a bad file at start-up or reload fails the whole load, loudly
            self.metrics.silences_ok.set(1)
        # nothing below can fail: switch over
        old_cfg = self.cfg
        old_status = {(s.receiver, s.kind, s.index): s.status for ss in self.slots.values() for s in ss}
        self._retire([s.integration for ss in self.slots.values() for s in ss])
        self.slots = {}
        for name, integrations in built.items():
            self.slots[name] = []
            for idx, integ in integrations:
                status = old_status.get((name, integ.kind, idx)) or \
                    IntegrationStatus(name, integ.kind, idx, integ.send_resolved)
                self.slots[name].append(Slot(name, idx, integ, status))
        self.cfg = cfg
        self.silence_file = silence_file
        self.router = Router(cfg)
        self.intervals = cfg.intervals()
        self.inhibitor = Inhibitor(cfg.inhibit_rules)
        self.deliverer = Deliverer(self.metrics, self.clock, Backoff(cfg.delivery.backoff_initial.total_seconds(),
                                                                     cfg.delivery.backoff_max.total_seconds()))
        self.resolve_timeout = cfg.global_.resolve_timeout
        same_cluster = self.shared is not None and cfg.cluster == old_cfg.cluster and \
            cfg.delivery.nflog_retention == old_cfg.delivery.nflog_retention
        if not same_cluster:  # a reload that keeps the cluster settings keeps the Redis client
            if self.shared is not None:
                self._retire([self.shared])
            self.shared = SharedLog(cfg.cluster, cfg.delivery.nflog_retention) if cfg.cluster else None
        self.groups.clear()
        self._heap.clear()
        now = self.clock.now()
        for alert in self.store:
            self.inhibitor.observe(alert)
            self._route(alert, now)

    # --- ingest --------------------------------------------------------------------------------

    def ingest(self, alerts: list[Alert], source: str = "api") -> None:
        """Store, merge and route ``alerts`` (already normalised by :mod:`alerter.ingest`)."""
        now = self.clock.now()
        for alert in alerts:
            stored = self.store.put(alert, now)
            self.inhibitor.observe(stored)
            self._route(stored, now)
        self.metrics.received.labels(source).inc(len(alerts))
        if self._wake is not None:
            self._wake.set()

    def _route(self, alert: Alert, now: datetime) -> None:
        for dest in self.router.destinations(alert.labels):
            gl = dest.group_labels(alert.labels)
            key = dest.group_key(gl)
            group = self.groups.get(key)
            if group is None:
                group = Group(key, dest, gl, first_flush_at(now, dest))
                self.groups[key] = group
                self._push(group)
            group.alerts[alert.fingerprint] = alert
            nxt = flush_after_insert(group, alert, now)
            if nxt < group.next_flush:
                group.next_flush = nxt
                self._push(group)

    def _push(self, group: Group) -> None:
        heapq.heappush(self._heap, (group.next_flush.timestamp(), next(self._seq), group.key))

    # --- muting -----------------------------------------------------------------------------------

    @property
    def silences(self) -> SilenceIndex:
        assert self.silence_file is not None
        return self.silence_file.index

    def muted_by(self, alert: Alert, now: datetime) -> tuple[list[str], list[str]]:
        """``(silence ids, inhibiting fingerprints)`` of ``alert`` at ``now``."""
        return self.silences.muted_by(alert.labels, now), self.inhibitor.muted_by(alert.labels, now)

    def time_muted(self, opts: RouteOpts, now: datetime) -> bool:
        """True when a mute interval contains ``now`` or active intervals are set and none does."""
        if any(self.intervals[n].contains(now) for n in opts.mute_time_intervals if n in self.intervals):
            return True
        active = [self.intervals[n] for n in opts.active_time_intervals if n in self.intervals]
        return bool(active) and not any(i.contains(now) for i in active)

    def state_counts(self) -> dict[str, int]:
        """Alerts by state (active, silenced, inhibited) for the gauge; resolved ones not counted."""
        now = self.clock.now()
        counts = {"active": 0, "silenced": 0, "inhibited": 0}
        for a in self.store:
            if a.resolved_at(now):
                continue
            sil, inh = self.muted_by(a, now)
            counts["silenced" if sil else "inhibited" if inh else "active"] += 1
        return counts

    # --- flushing ----------------------------------------------------------------------------

    def due(self, now: datetime) -> list[Group]:
        """Pop the groups whose flush time has come."""
        out: dict[str, Group] = {}
        ts = now.timestamp()
        while self._heap and self._heap[0][0] <= ts:
            _, _, key = heapq.heappop(self._heap)
            g = self.groups.get(key)
            if g is not None and key not in out and is_due(g, now):
                out[key] = g
        return list(out.values())

    def start_due(self) -> list[asyncio.Task[None]]:
        """Start a flush task for every due group (the clock is read once)."""
        now = self.clock.now()
        tasks = []
        for g in self.due(now):
            t = asyncio.create_task(self.flush(g, now))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)
            tasks.append(t)
        return tasks

    async def run_due(self) -> int:
        """Flush every due group and wait for the deliveries (for tests and the CLI); returns how many."""
        tasks = self.start_due()
        if tasks:
            await asyncio.gather(*tasks)
        return len(tasks)

    async def flush(self, group: Group, now: datetime) -> None:
        """Notify every receiver of ``group`` that needs it, then drop notified resolved alerts."""
        group.flushing = True
        group.flushed = True
        opts = group.dest.opts
        group.next_flush = next_flush_after_flush(group, now)
        self._push(group)
        try:
            snapshot = list(group.alerts.items())
            if self.time_muted(opts, now):
                ok = True
                visible: list[Alert] = []
            else:
                visible = [a for _, a in snapshot if not any(self.muted_by(a, now))]
                hold = opts.flap_hold
                if hold:
                    visible = [replace(a, ends_at=None) if a.resolved_at(now) and a.ends_at is not None
                               and a.ends_at > now - hold else a for a in visible]
                deadline = self.clock.monotonic() + opts.group_interval.total_seconds()
                jobs = [self._notify_slot(group, slot, visible, now, deadline)
                        for rec in opts.receivers for slot in self.slots.get(rec, [])]
                if len(jobs) == 1:
                    ok = await jobs[0]
                else:
                    ok = all(await asyncio.gather(*jobs)) if jobs else True
            if ok:
                shown = {a.fingerprint: a for a in visible}
                settle_after_flush(group, {fp: a for fp, a in snapshot
                                           if a.resolved_at(now) and not (fp in shown and not
                                                                          shown[fp].resolved_at(now))})
        finally:
            group.flushing = False
            if not group.alerts and self.groups.get(group.key) is group:
                del self.groups[group.key]

    async def _notify_slot(self, group: Group, slot: Slot, visible: list[Alert], now: datetime,
                           deadline: float) -> bool:
        firing = frozenset(a.fingerprint for a in visible if not a.resolved_at(now))
        resolved = frozenset(a.fingerprint for a in visible if a.resolved_at(now))
        key = entry_key(group.key, slot.receiver, slot.kind, slot.index)
        send_resolved = slot.integration.send_resolved
        repeat = group.dest.opts.repeat_interval
        shared = self.shared
        if shared is not None:
            try:
                entry = await shared.get(key)
                if not needs_update(entry, firing, resolved, send_resolved, repeat, now):
                    if entry is not None and self.nflog.get(key) != entry:  # keep the local log in step,
                        self.nflog.log(key, entry.firing, entry.resolved, entry.timestamp)  # for when Redis is away
                    return True
                if not await shared.claim(key, group.dest.opts.group_interval):
                    return True  # another replica is sending this one
            except RedisError as exc:
                log.warning("shared notification log unreachable; using the local one",
                            extra={"error.message": str(exc)[:200]})
                shared = None
        if shared is None and not needs_update(self.nflog.get(key), firing, resolved, send_resolved, repeat, now):
            return True
        try:
            alerts = visible if send_resolved else [a for a in visible if not a.resolved_at(now)]
            if alerts:
                n = Notification(
                    receiver=slot.receiver, group_key=group.key, group_labels=dict(group.labels), alerts=alerts,
                    status="firing" if firing else "resolved", now=now, external_url=self.cfg.external_url,
                    common_labels=common([a.labels for a in alerts]),
                    common_annotations=common([a.annotations for a in alerts]))
                if not await self.deliverer.deliver(slot, n, deadline):
                    return False
            self.nflog.log(key, firing, resolved, now)
            if shared is not None:
                await shared.log(key, firing, resolved, now)
            return True
        finally:
            if shared is not None:
                with contextlib.suppress(RedisError):
                    await shared.release(key)

    # --- housekeeping and the loop -------------------------------------------------------------

    def refresh_silences(self) -> None:
        """Reload the silences file if it changed; an invalid file keeps the last good silences."""
        sf = self.silence_file
        if sf is None:
            return
        self._silences_reloaded(sf, sf.reload_if_changed())

    async def reload_silences_off_loop(self) -> None:
        """Like :meth:`refresh_silences`, with the parse (about a second for 1,000 silences) on a
        thread: the loop keeps ingesting and delivering meanwhile, at worst a GIL switch interval
        late. A load in between (an API edit) wins; the next housekeeping tick looks again."""
        sf = self.silence_file
        if sf is None or not sf.changed():
            return
        base, stamp, text = sf.snapshot()
        parsed = await asyncio.to_thread(sf.parse_snapshot, text)
        if sf is self.silence_file:
            self._silences_reloaded(sf, sf.install(base, stamp, parsed))

    def _silences_reloaded(self, sf: SilenceFile, changed: bool | None) -> None:
        if changed is False and sf.last_error is not None:
            self.metrics.silences_ok.set(0)
            log.error("silences file is invalid; the last good silences stay in force",
                      extra={"alerter.problems": sf.last_error.problems})
        elif changed:
            self.metrics.silences_ok.set(1)
            log.info("silences reloaded", extra={"alerter.silences": len(sf.index.silences)})

    def housekeeping(self, *, sweep: bool = True, reload: bool = True) -> None:
        """Reload a changed silences file (``reload``), update gauges; ``sweep``: forget old resolved
        alerts and log entries."""
        now = self.clock.now()
        if reload:
            self.refresh_silences()
        if sweep:
            for gone in self.store.gc(now, KEEP_RESOLVED):
                self.inhibitor.forget(gone.fingerprint, gone.labels)
            self.nflog.gc(now)
        counts = {"active": 0, "pending": 0, "expired": 0}
        for s in self.silences.silences:
            counts[s.state(now)] += 1
        for state, n in counts.items():
            self.metrics.silences.labels(state).set(n)
        self.metrics.groups.set(len(self.groups))

    async def _loop(self) -> None:
        assert self._wake is not None
        last_house = last_sweep = -1e9
        reloading: asyncio.Task[None] | None = None
        while True:
            self.start_due()
            mono = self.clock.monotonic()
            if mono - last_house >= 1.0:
                # the sweeps walk every alert and log entry: every SWEEP_EVERY is plenty for
                # retentions of minutes to days, and keeps a busy loop's turns short
                sweep = mono - last_sweep >= SWEEP_EVERY
                if reloading is None or reloading.done():
                    reloading = asyncio.create_task(self.reload_silences_off_loop())
                    self._tasks.add(reloading)
                    reloading.add_done_callback(self._reload_done)
                try:
                    self.housekeeping(sweep=sweep, reload=False)
                except Exception:
                    log.exception("housekeeping failed")
                last_house = mono
                if sweep:
                    last_sweep = mono
            wait = 1.0
            if self._heap:
                wait = min(wait, max(0.0, self._heap[0][0] - self.clock.time()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def _reload_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("reloading the silences file failed", exc_info=task.exception())

    async def start(self) -> None:
        """Start the dispatch loop."""
        self._wake = asyncio.Event()
        self._loop_task = asyncio.create_task(self._loop())
        self.ready = True

    def _retire(self, resources: list[Any]) -> None:
        """Close replaced integrations (their own HTTP clients, summary timers) and shared logs once
        the flushes running now, which may still use them, have ended."""
        if not resources:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not serving yet (or a synchronous caller): closed at stop()
            self._retired += resources
            return
        running = list(self._tasks)

        async def close_later() -> None:
            if running:
                await asyncio.wait(running)
            await close_all(resources)

        t = asyncio.create_task(close_later())
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Stop the loop, wait briefly for deliveries, close resources."""
        self.ready = False
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=5)
            for t in pending:
                t.cancel()
        current = [s.integration for ss in self.slots.values() for s in ss]
        await close_all([*self._retired, *current, *([self.shared] if self.shared else [])])
        self._retired.clear()
        if self._own_http:
            await self.http.aclose()
        await self.sessions.close()
        self.nflog.close()
