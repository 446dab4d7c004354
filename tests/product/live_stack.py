"""The live stack the product tests share: real scheduler, shipper, alerter, store and Prometheus.

A real `cronwatch scheduler run` with tasks that succeed, fail, retry and time out (plus the log
of a task cronwatch does not schedule); a real `cronwatch shipper run` tailing those logs into
osmem-server; a real `cronwatch alerter run`; Debian's Prometheus scraping all three every second
with the rendered rules loaded and alerting into the alerter — wired as in docker-compose.yml.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from product_support import REPO, RULES

from cronwatch.testing import services

KIBANA = "http://kibana.test:5601"
RUNBOOK = "https://wiki.test/cronwatch/RUNBOOK.md"
TASKS = """\
tasks:
  - {name: always_ok, schedule: "@every 1s", command: "true"}
  - {name: always_fails, schedule: "@every 1s", command: "echo boom >&2; exit 3"}
  - name: retried
    schedule: "@every 2s"
    command: "exit 1"
    retries: {attempts: 2, initial: 100ms, max: 200ms}
  - {name: too_slow, schedule: "@every 2s", command: "sleep 5", timeout: 500ms, kill_grace: 100ms}
"""


def legacy_log() -> str:
    """ECS lines of a task cronwatch does not schedule: it started and failed just now."""
    import json as _json

    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    base = {"@timestamp": now, "task.name": "legacy_backup", "host.name": "old-host"}
    records = [{**base, "log.level": "info", "message": "backup started", "event.action": "task.started"},
               {**base, "log.level": "error", "message": "backup failed", "event.action": "task.failed",
                "event.outcome": "failure"}]
    return "".join(_json.dumps(r) + "\n" for r in records)


@dataclass
class Stack:
    """The running services and their URLs."""

    prometheus: services.Process
    scheduler: str
    shipper: str
    alerter: str
    store: str
    workdir: Path

    def query(self, expr: str) -> dict[str, Any]:
        """Run an instant query; the parsed JSON answer."""
        r = httpx.post(self.prometheus.url + "/api/v1/query", data={"query": expr}, timeout=30)
        body: dict[str, Any] = r.json()
        return body


def start_cronwatch(args: list[str], url: str, ready: str, log: Path) -> subprocess.Popen[bytes]:
    """Start `cronwatch ARGS...` and wait until GET url+ready answers."""
    cmd = [sys.executable, "-c", "from cronwatch.cli import main; main()", *args]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=REPO)
    try:
        services.wait_until(lambda: services.http_ok(url + ready), 30, " ".join(args[:2]), proc)
    except services.ServiceError:
        proc.kill()
        raise AssertionError(f"{' '.join(args[:2])} did not start:\n{log.read_text()[-3000:]}") from None
    return proc


def render_rules(out: Path) -> list[Path]:
    """The rule files with the placeholders filled in, as compose's rules-init does."""
    env = {**os.environ, "KIBANA_URL": KIBANA, "RUNBOOK_URL": RUNBOOK}
    subprocess.run(["sh", str(REPO / "deploy/prometheus/render-rules.sh"), str(RULES), str(out)], env=env,
                   check=True, capture_output=True, timeout=60)
    files = sorted(out.glob("*.rules.yml"))
    for path in files:  # evaluate the recording group every second too, like the global interval here
        path.write_text(path.read_text().replace("\n    interval: 1m\n", "\n    interval: 1s\n"))
    return files


def run_stack(osmem: services.Process, work: Path) -> Iterator[Stack]:
    """Scheduler, shipper, alerter and Prometheus, wired as in docker-compose.yml, on loopback."""
    (work / "tasks.yml").write_text(TASKS)
    # A task cronwatch does not schedule (plain cron) whose own log says it failed.
    (work / "scheduler" / "logs").mkdir(parents=True)
    (work / "scheduler" / "logs" / "legacy.log").write_text(legacy_log())
    procs: list[subprocess.Popen[bytes]] = []
    prom: services.Process | None = None
    try:
        sched = f"http://127.0.0.1:{services.free_port()}"
        procs.append(start_cronwatch(["scheduler", "run", "--config", str(work / "tasks.yml"), "--state",
                                      str(work / "scheduler"), "--listen", sched.removeprefix("http://")],
                                     sched, "/healthz", work / "scheduler.log"))
        ship = f"http://127.0.0.1:{services.free_port()}"
        procs.append(start_cronwatch(["shipper", "run", "--hosts", osmem.url, "--index-prefix", "live",
                                      "--path", str(work / "scheduler" / "logs" / "*.log"), "--state",
                                      str(work / "shipper"), "--listen", ship.removeprefix("http://")],
                                     ship, "/metrics", work / "shipper.log"))
        (work / "alerter.yml").write_text(
            "route: {receiver: archive, group_by: [alertname, task], group_wait: 0s, group_interval: 1s}\n"
            f"receivers:\n  - name: archive\n    file_configs: [{{directory: {work / 'notifications'}}}]\n"
            f"state_dir: {work / 'alerter'}\n")
        alert = f"http://127.0.0.1:{services.free_port()}"
        procs.append(start_cronwatch(["alerter", "run", "--config", str(work / "alerter.yml"), "--listen",
                                      alert.removeprefix("http://")], alert, "/-/ready", work / "alerter.log"))
        rule_files = render_rules(work / "rules")
        targets = {"cronwatch-scheduler": sched, "cronwatch-shipper": ship, "cronwatch-alerter": alert}
        scrape = "".join(f"  - job_name: {job}\n    static_configs: [{{targets: ['{url.removeprefix('http://')}']}}]\n"
                         for job, url in targets.items())
        config = ("global: {scrape_interval: 1s, evaluation_interval: 1s, external_labels: {env: test}}\n"
                  f"rule_files: [{', '.join(p.name for p in rule_files)}]\n"
                  "alerting:\n  alertmanagers:\n    - api_version: v2\n"
                  f"      static_configs: [{{targets: ['{alert.removeprefix('http://')}']}}]\n"
                  f"scrape_configs:\n{scrape}")
        prom = services.start_prometheus(work / "prometheus", config, rule_files)
        stack = Stack(prom, sched, ship, alert, osmem.url, work)

        def ready() -> bool:
            r = stack.query('count(up == 1) == 3 and on() count(cronwatch_log_task_runs_total) > 0')
            return bool(r["data"]["result"])

        services.wait_until(ready, 60, "the stack's first scrapes")
        time.sleep(3)  # a few rule evaluations over real data
        yield stack
    finally:
        if prom is not None:
            prom.stop()
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


