"""The ``cronwatch alerter`` commands: check-config, routes-test, silence add/list/expire, run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner

from cronwatch.cli import cli
from cronwatch.testing.services import free_port, wait_until

CFG = """\
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: ['team="db"']
      receiver: dba
tiers:
  critical: {receivers: [pager, default]}
receivers:
  - {name: default, file_configs: [{directory: outbox}]}
  - {name: dba, file_configs: [{directory: outbox}]}
  - {name: pager, file_configs: [{directory: outbox}]}
silences_file: silences.yml
"""


def _write(tmp_path: Path, text: str = CFG) -> Path:
    p = tmp_path / "alerter.yml"
    p.write_text(text)
    (tmp_path / "silences.yml").write_text("# ours\nsilences: []\n")
    return p


def test_check_config_ok_and_errors(tmp_path: Path) -> None:
    """check-config prints a summary for a good file and file:line errors with exit 2 for a bad one."""
    p = _write(tmp_path)
    r = CliRunner().invoke(cli, ["alerter", "check-config", str(p)])
    assert r.exit_code == 0, r.output
    assert "OK" in r.output and "tiers: critical" in r.output
    p.write_text(CFG.replace("receiver: dba", "receiver: dbx"))
    r = CliRunner().invoke(cli, ["alerter", "check-config", str(p)])
    assert r.exit_code == 2
    assert "alerter.yml:6: route.routes[0].receiver: undefined receiver 'dbx'" in r.output
    p.write_text(CFG)
    (tmp_path / "silences.yml").write_text("silences:\n  - matchers: ['task=~\".*\"']\n    ends_at: 2030-01-01T00:00:00Z\n")
    r = CliRunner().invoke(cli, ["alerter", "check-config", str(p)])
    assert r.exit_code == 2 and "silences.yml:2: silences[0]" in r.output


def test_routes_test_prints_receivers(tmp_path: Path) -> None:
    """routes-test prints one receiver per line, tiers included."""
    p = _write(tmp_path)
    run = CliRunner().invoke
    assert run(cli, ["alerter", "routes-test", "--config", str(p), "team=db"]).output == "dba\n"
    assert run(cli, ["alerter", "routes-test", "--config", str(p), "severity=critical"]).output == "pager\ndefault\n"
    assert run(cli, ["alerter", "routes-test", "--config", str(p), "alertname=X"]).output == "default\n"
    bad = run(cli, ["alerter", "routes-test", "--config", str(p), "nolabel"])
    assert bad.exit_code == 2 and "LABEL=VALUE" in bad.output


def test_silence_add_list_expire(tmp_path: Path) -> None:
    """silence add writes the file (comments kept), list shows it, expire ends it."""
    p = _write(tmp_path)
    run = CliRunner().invoke
    r = run(cli, ["alerter", "silence", "add", "--config", str(p), "--duration", "2h", "-c", "maintenance",
                  "-a", "ops", "--id", "maint-1", 'task="db_backup"', 'severity=~"warning|info"'])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "maint-1"
    text = (tmp_path / "silences.yml").read_text()
    assert text.startswith("# ours") and "maint-1" in text
    listed = run(cli, ["alerter", "silence", "list", "--config", str(p)]).output
    assert "maint-1\tactive" in listed and 'task="db_backup"' in listed
    assert run(cli, ["alerter", "silence", "expire", "--config", str(p), "maint-1"]).exit_code == 0
    assert "maint-1" not in run(cli, ["alerter", "silence", "list", "--config", str(p)]).output
    assert "maint-1\texpired" in run(cli, ["alerter", "silence", "list", "--config", str(p), "--all"]).output
    r = run(cli, ["alerter", "silence", "add", "--config", str(p), "-c", "quiet nights", "--every", "0 22 * * *",
                  "--duration", "8h", "--timezone", "Asia/Shanghai", 'env="staging"'])
    assert r.exit_code == 0, r.output
    assert "every: {cron: 0 22 * * *, duration: 8h, timezone: Asia/Shanghai}" in (tmp_path / "silences.yml").read_text()
    assert "every 0 22 * * * for 8h (Asia/Shanghai)" in run(cli, ["alerter", "silence", "list", "--config", str(p)]).output
    r = run(cli, ["alerter", "silence", "add", "--config", str(p), "-c", "x", "--every", "61 * * * *", 'a="b"'])
    assert r.exit_code == 2 and "invalid cron expression" in r.output
    r = run(cli, ["alerter", "silence", "add", "--config", str(p), "-c", "x", 'env=~".*"'])
    assert r.exit_code == 2 and "empty value" in r.output
    r = run(cli, ["alerter", "silence", "expire", "--config", str(p), "nope"])
    assert r.exit_code == 1 and "no silence" in r.output


def test_run_serves_and_reloads_on_sighup(tmp_path: Path) -> None:
    """``alerter run`` serves /-/ready on --listen, reloads on SIGHUP, and stops cleanly on SIGTERM."""
    p = _write(tmp_path)
    port = free_port()
    with open(tmp_path / "alerter.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cronwatch", "alerter", "run", "--config", str(p),
                                 "--listen", f"127.0.0.1:{port}"], cwd=tmp_path, stdout=log,
                                stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(url + "/-/ready", timeout=1).status_code == 200, 20, "alerter", proc)
        assert httpx.get(url + "/api/v2/receivers").json()[0] == {"name": "default"}
        p.write_text(CFG.replace("- {name: default,", "- {name: first, file_configs: [{directory: o}]}\n  - {name: default,"))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: httpx.get(url + "/api/v2/receivers").json()[0] == {"name": "first"}, 10, "reload")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    assert proc.returncode == 0, (tmp_path / "alerter.log").read_text()
    assert "configuration reloaded" in (tmp_path / "alerter.log").read_text()
