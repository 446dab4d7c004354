"""Differential tests against the real Alertmanager (Debian binary): fingerprints and notified groups agree."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from engine_helpers import serve

from alerter.model import fingerprint
from cronwatch.testing.services import Process, free_port, start_alertmanager

LABEL_SETS = [
    {"alertname": "TaskFailed"},
    {"alertname": "TaskFailed", "task": "db_backup", "severity": "critical"},
    {"alertname": "TaskMissed", "task": "报表", "env": "生产", "team": "données"},
    {"alertname": "Weird", "a": "x\ny", "b": 'quote"d', "c": "\\back", "zz": "ÿ\u00ff"},
    {"alertname": "Many", **{f"l{i:02d}": str(i) for i in range(30)}},
]


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """A real Alertmanager with a webhook receiver (nothing listens; fingerprints need no delivery)."""
    cfg = "route: {receiver: x}\nreceivers: [{name: x, webhook_configs: [{url: 'http://127.0.0.1:9/'}]}]\n"
    with start_alertmanager(tmp_path_factory.mktemp("am-fp"), cfg) as am:
        yield am


@pytest.mark.timeout(60)
def test_fingerprints_match_alertmanager(alertmanager: Process) -> None:
    """Our FNV-1a fingerprint equals the one the real Alertmanager reports for each label set."""
    now = datetime.now(UTC)
    body = [{"labels": ls, "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=5)).isoformat()}
            for ls in LABEL_SETS]
    httpx.post(alertmanager.url + "/api/v2/alerts", json=body, timeout=10).raise_for_status()
    got = {a["fingerprint"]: a["labels"] for a in httpx.get(alertmanager.url + "/api/v2/alerts", timeout=10).json()}
    assert len(got) == len(LABEL_SETS)
    for ls in LABEL_SETS:
        assert got[fingerprint(ls)] == ls


# --- same stream, same silences, same notified groups ----------------------------------------------------

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      group_by: [alertname, task]
      continue: true
    - matchers: ['team=~"db|data"', 'env=~".*"']
      receiver: team
    - matchers: ['env=""', 'severity!~"info|debug"']
      receiver: no-env
receivers:
  - {name: default, webhook_configs: [{url: '@URL@/default'}]}
  - {name: pager, webhook_configs: [{url: '@URL@/pager'}]}
  - {name: team, webhook_configs: [{url: '@URL@/team', send_resolved: false}]}
  - {name: no-env, webhook_configs: [{url: '@URL@/no-env'}]}
inhibit_rules:
  - source_matchers: ['alertname="SchedulerDown"']
    target_matchers: ['alertname="TaskMissed"']
    equal: [env]
"""


class Collector:
    """Records webhook payloads per sender (``am`` or ``us``)."""

    def __init__(self) -> None:
        self.got: dict[str, list[dict[str, Any]]] = {"am": [], "us": []}
        self.port = free_port()

    async def handle(self, request: web.Request) -> web.Response:
        self.got[request.match_info["who"]].append(await request.json())
        return web.Response(text="ok")

    def groups(self, who: str) -> set[tuple[Any, ...]]:
        """The notified groups: receiver, group key, status and the alerts with their status."""
        return {(p["receiver"], p["groupKey"], p["status"],
                 frozenset((a["fingerprint"], a["status"]) for a in p["alerts"])) for p in self.got[who]}


@pytest.fixture
async def collector() -> AsyncIterator[Collector]:
    """A webhook sink for both alert routers."""
    c = Collector()
    app = web.Application()
    app.router.add_post("/{who}/{receiver}", c.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", c.port).start()
    yield c
    await runner.cleanup()


def _alerts(now: datetime, ends: timedelta) -> list[dict[str, Any]]:
    spec = [
        {"alertname": "TaskFailed", "task": "db_backup", "severity": "critical", "team": "db", "env": "prod"},
        {"alertname": "TaskFailed", "task": "report", "severity": "critical", "env": "prod"},
        {"alertname": "TaskFailed", "task": "etl", "severity": "warning", "team": "data", "env": "prod"},
        {"alertname": "TaskSlow", "task": "etl", "severity": "warning", "env": "staging"},
        {"alertname": "TaskSlow", "task": "cleanup", "severity": "info"},
        {"alertname": "TaskSlow", "task": "vacuum", "severity": "warning"},
        {"alertname": "SchedulerDown", "severity": "critical", "env": "prod"},
        {"alertname": "TaskMissed", "task": "a", "severity": "warning", "env": "prod"},
        {"alertname": "TaskMissed", "task": "b", "severity": "warning", "env": "dev"},
        {"alertname": "Noise", "task": "x", "severity": "warning", "env": "prod"},
    ]
    return [{"labels": ls, "startsAt": now.isoformat(), "endsAt": (now + ends).isoformat()} for ls in spec]


SILENCES = [
    [{"name": "alertname", "value": "Noise", "isRegex": False, "isEqual": True}],
    [{"name": "task", "value": "vac.*", "isRegex": True, "isEqual": True},
     {"name": "env", "value": "", "isRegex": False, "isEqual": True}],
]


async def _settle(c: Collector, minimum: int, quiet: float = 2.5, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = len(c.got["am"]) + len(c.got["us"])
        if n != last:
            last, since = n, time.monotonic()
        elif n >= minimum and time.monotonic() - since >= quiet:
            return
        await asyncio.sleep(0.1)


@pytest.mark.timeout(90)
async def test_same_stream_same_notified_groups(tmp_path: Path, collector: Collector) -> None:
    """Alerts, silences and inhibitions fed to Alertmanager and to us produce the same notified groups."""
    cfg_text = CONFIG.replace("@URL@", f"http://127.0.0.1:{collector.port}")
    am = await asyncio.to_thread(start_alertmanager, tmp_path / "am", cfg_text.replace(f":{collector.port}/", f":{collector.port}/am/"))
    (tmp_path / "us").mkdir()
    us = await serve(cfg_text.replace(f":{collector.port}/", f":{collector.port}/us/"), tmp_path / "us")
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            now = datetime.now(UTC)
            for matchers in SILENCES:
                body = {"matchers": matchers, "startsAt": now.isoformat(),
                        "endsAt": (now + timedelta(hours=1)).isoformat(), "createdBy": "t", "comment": "t"}
                for url in (am.url, us.url):
                    (await http.post(url + "/api/v2/silences", json=body)).raise_for_status()
            batch = _alerts(now, timedelta(minutes=10))
            for url in (am.url, us.url):
                (await http.post(url + "/api/v2/alerts", json=batch)).raise_for_status()
            await _settle(collector, minimum=10)
            assert collector.groups("us") == collector.groups("am")
            assert len(collector.groups("us")) >= 5

            for c in collector.got.values():
                c.clear()
            now = datetime.now(UTC)
            ended = [a for a in _alerts(now, timedelta(0)) if a["labels"]["alertname"] in ("TaskFailed",
                                                                                           "SchedulerDown")]
            for a in ended:
                a["startsAt"] = (now - timedelta(seconds=5)).isoformat()
            for url in (am.url, us.url):
                (await http.post(url + "/api/v2/alerts", json=ended)).raise_for_status()
            await _settle(collector, minimum=4)
            assert collector.groups("us") == collector.groups("am")
            assert any(g[2] == "resolved" for g in collector.groups("us"))
    finally:
        await us.stop()
        await asyncio.to_thread(am.stop)
