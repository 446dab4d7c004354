"""The scheduler as a real process: HTTP + /metrics on one address, SIGHUP/file reload, SIGTERM drain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cronwatch.testing.services import free_port, wait_until

pytestmark = pytest.mark.timeout(90)
REPO = Path(__file__).resolve().parents[2]

TASKS = """\
shutdown_grace: 1s
tasks:
  - name: tick
    schedule: "@every 1s"
    command: ["echo", "tick"]
{extra}
"""


class Proc:
    """A ``python -m scheduler run`` child with its log file and HTTP address."""

    def __init__(self, tmp: Path, config: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "tasks.log"
        self.stderr = tmp / "stderr.log"
        full_env = {**os.environ, "PYTHONPATH": f"{REPO}:{Path(__file__).parent}", **(env or {})}
        with open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "scheduler", "run", "--config", str(config), "--state", str(tmp / "state"),
                 "--listen", f"127.0.0.1:{self.port}", "--log-file", str(self.log)],
                stdout=err, stderr=err, env=full_env, cwd=tmp)
        wait_until(lambda: httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200, 20, "scheduler", self.proc)

    def records(self, action: str | None = None) -> list[dict[str, object]]:
        """The job log's records (optionally of one action)."""
        if not self.log.exists():
            return []
        recs = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [r for r in recs if action is None or r.get("event.action") == action]

    def own_logs(self) -> str:
        """What the scheduler wrote to stderr (its own JSON logs)."""
        return self.stderr.read_text()


@pytest.fixture
def proc_factory(tmp_path: Path) -> Iterator[list[Proc]]:
    """Processes started by a test, killed at the end."""
    procs: list[Proc] = []
    yield procs
    for p in procs:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait()


def test_serves_api_and_metrics_and_writes_the_job_log(tmp_path: Path, proc_factory: list[Proc]) -> None:
    """The process runs its tasks, serves /tasks and /metrics on one address, and writes JSON lines."""
    config = tmp_path / "tasks.yml"
    config.write_text(TASKS.format(extra=""))
    p = Proc(tmp_path, config)
    proc_factory.append(p)
    wait_until(lambda: len(p.records("task.succeeded")) >= 2, 15, "two runs")
    names = [t["name"] for t in httpx.get(f"{p.url}/tasks").json()]
    assert names == ["tick"]
    metrics = httpx.get(f"{p.url}/metrics").text
    assert 'cronwatch_task_runs_total{outcome="success",task="tick"}' in metrics
    out = [r for r in p.records() if r.get("message") == "tick"]
    assert out and all(len(str(r["trace.id"])) == 32 for r in out)
    p.proc.send_signal(signal.SIGTERM)
    assert p.proc.wait(20) == 0


def test_reload_keeps_running_config_on_error_and_applies_a_fixed_file(tmp_path: Path,
                                                                        proc_factory: list[Proc]) -> None:
    """A broken file on SIGHUP is reported with file:line and ignored; a fixed file is applied on change."""
    config = tmp_path / "tasks.yml"
    config.write_text(TASKS.format(extra=""))
    p = Proc(tmp_path, config)
    proc_factory.append(p)
    config.write_text(TASKS.format(extra='  - name: bad\n    schedule: "0 0 * * 9"\n    command: ["true"]\n'))
    p.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "keeping the running config" in p.own_logs(), 10, "reload error")
    assert f'{config}:7: tasks[1].schedule' in p.own_logs()
    assert [t["name"] for t in httpx.get(f"{p.url}/tasks").json()] == ["tick"]
    config.write_text(TASKS.format(extra='  - name: added\n    schedule: "@every 1h"\n    command: ["true"]\n'))
    wait_until(lambda: len(httpx.get(f"{p.url}/tasks").json()) == 2, 10, "reload on file change")
    p.proc.send_signal(signal.SIGTERM)
    assert p.proc.wait(20) == 0


def test_sigterm_lets_runs_finish_within_grace_then_kills_and_logs(tmp_path: Path,
                                                                     proc_factory: list[Proc]) -> None:
    """On SIGTERM a run longer than the grace is killed (process group) and logged as failed; exit 0."""
    pidfile = tmp_path / "long.pid"
    config = tmp_path / "tasks.yml"
    config.write_text(TASKS.format(
        extra=f'  - name: long\n    schedule: "@yearly"\n    command: "sleep 120 & echo $! > {pidfile}; wait"\n'))
    p = Proc(tmp_path, config)
    proc_factory.append(p)
    assert httpx.post(f"{p.url}/tasks/long/run").status_code == 202
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip() != "", 10, "long task started")
    child = int(pidfile.read_text())
    t0 = time.monotonic()
    p.proc.send_signal(signal.SIGTERM)
    assert p.proc.wait(20) == 0
    assert time.monotonic() - t0 < 15
    failed = [r for r in p.records("task.failed") if r["task.name"] == "long"]
    assert failed and "shutting down" in str(failed[0]["error.message"])
    wait_until(lambda: not Path(f"/proc/{child}").exists() or
               Path(f"/proc/{child}/stat").read_text().split(")")[-1].split()[0] == "Z", 5, "child killed")


def test_invalid_config_exits_2_with_file_and_line(tmp_path: Path) -> None:
    """``run`` with an invalid file exits 2 and prints file:line: field: message."""
    config = tmp_path / "tasks.yml"
    config.write_text("tasks:\n  - name: x\n    schedule: '@every soon'\n    command: x\n")
    res = subprocess.run([sys.executable, "-m", "scheduler", "run", "--config", str(config), "--state",
                          str(tmp_path / "st")], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert res.returncode == 2
    assert f"{config}:3: tasks[0].schedule:" in res.stderr


def test_a_real_prometheus_scrapes_the_metrics(tmp_path: Path, proc_factory: list[Proc]) -> None:
    """Prometheus scrapes /metrics: every family is there, labelled ``task``, and its own ``job`` label stays."""
    from cronwatch.testing.services import start_prometheus

    config = tmp_path / "tasks.yml"
    config.write_text(TASKS.format(extra='  - name: never\n    schedule: "@yearly"\n    command: ["true"]\n'))
    p = Proc(tmp_path, config)
    proc_factory.append(p)
    prom_cfg = ("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n"
                f"  - job_name: cronwatch-scheduler\n    static_configs: [{{targets: ['127.0.0.1:{p.port}']}}]\n")
    with start_prometheus(tmp_path / "prom", prom_cfg) as prom:
        def query(q: str) -> list[dict[str, object]]:
            body = httpx.get(f"{prom.url}/api/v1/query", params={"query": q}, timeout=5).json()
            return body["data"]["result"]  # type: ignore[no-any-return]

        wait_until(lambda: bool(query('cronwatch_task_runs_total{task="tick",outcome="success"} > 0')), 30, "scrape")
        never = query('cronwatch_task_runs_total{task="never"}')
        assert {r["metric"]["outcome"] for r in never} == {"success", "failure", "skipped"}  # type: ignore[index]
        assert all(r["metric"]["job"] == "cronwatch-scheduler" for r in never)  # type: ignore[index]
        nxt = query('cronwatch_task_next_run_timestamp_seconds{task="tick"} - time()')
        assert nxt and -2 < float(nxt[0]["value"][1]) < 3  # type: ignore[index]
        assert query("cronwatch_task_lateness_seconds_count > 0")
        meta = httpx.get(f"{prom.url}/api/v1/metadata", timeout=5).json()["data"]
        for family in ("cronwatch_task_runs", "cronwatch_task_missed", "cronwatch_task_retries",
                       "cronwatch_task_run_duration_seconds", "cronwatch_task_running"):
            assert any(k.startswith(family) for k in meta), family
    p.proc.send_signal(signal.SIGTERM)
    assert p.proc.wait(20) == 0
