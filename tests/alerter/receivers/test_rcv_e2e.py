"""End to end: Prometheus (Debian binary) evaluates a rule → ``cronwatch alerter run`` → every receiver, firing then resolved."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import httpx
import pytest
from aiohttp import web
from fakes.robots import DingtalkRobot, WecomRobot
from fakes.sentry import SentryServer
from fakes.smtp import start_scripted_smtp
from rcvhelpers import write_ca

from cronwatch.testing.services import free_port, start_prometheus, wait_until

pytestmark = pytest.mark.timeout(180)

RULES = """\
groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: CronTaskFailed
        expr: e2e_task_failing > 0
        labels: {severity: critical}
        annotations:
          summary: "Task {{ $labels.task }} is failing"
          runbook_url: https://runbooks.example.com/cron/task-failed
"""


class Exporter:
    """A /metrics endpoint whose ``e2e_task_failing{task="db_backup"}`` the test switches."""

    def __init__(self) -> None:
        self.value = 1
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    async def handle(self, _request: web.Request) -> web.Response:
        return web.Response(text=f'e2e_task_failing{{task="db_backup"}} {self.value}\n',
                            content_type="text/plain")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()


async def eventually(check: Callable[[], bool], within: float, what: str) -> None:
    """Await until ``check()`` is true, letting the fakes in this loop serve meanwhile."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_alerter(workdir: Path, port: int) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    """``cronwatch alerter run`` as a child process, logging to ``workdir/alerter.log``."""
    env = dict(os.environ, CRONWATCH_LOG_LEVEL="info")
    log = open(workdir / "alerter.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "cronwatch", "alerter", "run", "--config",
                             str(workdir / "alerter.yml"), "--listen", f"127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    return proc, log


async def test_prometheus_to_every_receiver_firing_then_resolved(tmp_path: Path) -> None:
    """A rule firing in Prometheus reaches WeCom, DingTalk, e-mail and Sentry, and so does its resolution."""
    exporter = Exporter()
    await exporter.start()
    wecom = await WecomRobot().start()
    dingtalk = await DingtalkRobot(secret="SECe2e-secret-0123456789").start()
    sentry = await SentryServer().start()
    smtp = start_scripted_smtp(starttls=True, users={"cronwatch": "mail-pass-e2e"})
    ca = write_ca(tmp_path, smtp.ca_pem)
    port = free_port()
    (tmp_path / "dingtalk.secret").write_text(dingtalk.secret or "")
    (tmp_path / "alerter.yml").write_text(f"""\
route:
  receiver: everyone
  group_by: [alertname, task]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: everyone
    wecom_configs:
      - webhook_url: {wecom.url}/cgi-bin/webhook/send?key={wecom.key}
    dingtalk_configs:
      - webhook_url: {dingtalk.url}/robot/send?access_token={dingtalk.token}
        secret_file: dingtalk.secret
        locale: zh
    email_configs:
      - to: oncall@example.com
        from: cronwatch@example.com
        smarthost: 127.0.0.1:{smtp.port}
        auth_username: cronwatch
        auth_password: mail-pass-e2e
        tls_config: {{ca_file: {ca}}}
        send_resolved: true
    sentry_configs:
      - dsn: {sentry.dsn}
state_dir: state
""")
    proc, log = start_alerter(tmp_path, port)
    prom = None
    try:
        await asyncio.to_thread(wait_until, lambda: httpx.get(f"http://127.0.0.1:{port}/-/ready").is_success,
                                30, "cronwatch alerter", proc)
        (tmp_path / "rules.yml").write_text(RULES)
        prom = await asyncio.to_thread(start_prometheus, tmp_path / "prom", f"""\
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - api_version: v2
      static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
scrape_configs:
  - job_name: e2e
    static_configs: [{{targets: ["127.0.0.1:{exporter.port}"]}}]
""", [tmp_path / "rules.yml"], None, 60.0, ["--rules.alert.resend-delay=1s"])

        def firing_everywhere() -> bool:
            return bool(wecom.accepted() and dingtalk.accepted() and sentry.events and smtp.messages)

        await eventually(firing_everywhere, 60, "firing notifications at every receiver")
        assert "Task db_backup is failing" in wecom.accepted()[0]["markdown"]["content"]
        assert "告警中" in dingtalk.accepted()[0]["markdown"]["text"]
        assert sentry.events[0]["level"] == "fatal" and sentry.events[0]["tags"]["task"] == "db_backup"
        assert "FIRING" in smtp.parsed()[0]["Subject"]

        exporter.value = 0

        def resolved_everywhere() -> bool:
            return ("RESOLVED" in wecom.accepted()[-1]["markdown"]["content"]
                    and "已恢复" in dingtalk.accepted()[-1]["markdown"]["text"]
                    and sentry.events[-1]["tags"].get("alert_status") == "resolved"
                    and "RESOLVED" in smtp.parsed()[-1]["Subject"])

        await eventually(resolved_everywhere, 60, "resolved notifications at every receiver")
        assert sentry.events[0]["fingerprint"] == sentry.events[-1]["fingerprint"]
        assert all(r.errcode == 0 for r in wecom.received + dingtalk.received)
        async with httpx.AsyncClient() as client:
            status = (await client.get(f"http://127.0.0.1:{port}/api/cronwatch/v1/receivers")).json()
            metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        assert {s["integration"] for s in status} == {"wecom", "dingtalk", "email", "sentry"}
        assert all(s["last_outcome"] == "sent" for s in status)
        assert 'integration="dingtalk"' in metrics
        text = (tmp_path / "alerter.log").read_text() + repr(status) + metrics
        for secret in (wecom.key, dingtalk.token, dingtalk.secret or "", "mail-pass-e2e", sentry.public_key):
            assert secret not in text
    finally:
        if prom is not None:
            prom.stop()
        proc.terminate()
        proc.wait(10)
        log.close()
        smtp.stop()
        for server in (wecom, dingtalk, sentry):
            await server.stop()
        if exporter.runner is not None:
            await exporter.runner.cleanup()
