"""The ``cronwatch shipper run | backfill | check`` commands, as users run them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import CliRunner
from shiphelpers import CRONWATCH, append, count, search, shipper_yaml

from cronwatch.cli import cli
from cronwatch.testing.services import Process, free_port, wait_until

pytestmark = pytest.mark.timeout(60)


def _prefix() -> str:
    return "cli" + uuid.uuid4().hex[:10]


def test_run_ships_serves_metrics_and_stops_on_sigterm(osmem: Process, tmp_path: Path) -> None:
    """``run`` with flags only ships files, serves /metrics with the DESIGN.md names, and exits 0 on SIGTERM."""
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "job.log", *(orjson.dumps({"@timestamp": "2026-11-22T02:00:00Z", "level": "error" if i % 5 == 0
                                             else "info", "task": "sync_orders", "msg": f"m{i}"}).decode()
                               for i in range(20)))
    append(logs / "job.log", orjson.dumps({"@timestamp": "2026-11-22T02:00:01Z", "event.action": "task.failed",
                                           "task.name": "sync_orders", "msg": "failed"}).decode())
    prefix = _prefix()
    port = free_port()
    proc = subprocess.Popen([CRONWATCH, "shipper", "run", "--path", str(logs / "*.log"), "--hosts", osmem.url,
                             "--index-prefix", prefix, "--state", str(tmp_path / "state"),
                             "--listen", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: count(osmem.url, f"{prefix}-*") == 21, 30, "documents indexed", proc)
        wait_until(lambda: "cronwatch_shipper_events_total" in httpx.get(f"http://127.0.0.1:{port}/metrics").text,
                   10, "metrics")
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'cronwatch_shipper_events_total{stage="indexed"} 21.0' in text
        assert 'cronwatch_log_events_total{level="error",task="sync_orders"} 4.0' in text
        assert 'cronwatch_log_task_runs_total{outcome="failure",task="sync_orders"} 1.0' in text
        assert "cronwatch_shipper_bulk_requests_total{status=\"200\"}" in text
        assert "cronwatch_shipper_lag_bytes{path=" in text
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()
    for line in err.decode().splitlines():
        assert orjson.loads(line)["@timestamp"]  # our own logs are JSON
    checkpoint = orjson.loads((tmp_path / "state" / "checkpoints.json").read_bytes())
    assert checkpoint["files"][0]["offset"] == (logs / "job.log").stat().st_size


def test_backfill_is_safe_to_rerun(osmem: Process, tmp_path: Path, corpus_dir: Path) -> None:
    """``backfill`` ships the given files once; running it again adds no duplicates."""
    prefix = _prefix()
    args = ["shipper", "backfill", "--hosts", osmem.url, "--index-prefix", prefix, "--tz", "Asia/Shanghai",
            "--state", str(tmp_path / "state"), str(corpus_dir / "python.log"), str(corpus_dir / "spring.log")]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "backfill done" in first.output
    n = count(osmem.url, f"{prefix}-*")
    assert n >= 6
    second = CliRunner().invoke(cli, args)
    assert "backfill done: 0 lines" in second.output  # the checkpoint says both files were shipped to their end
    state = tmp_path / "state"
    for f in state.rglob("checkpoints.json"):
        f.unlink()  # even without its checkpoints a re-run only overwrites
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert count(osmem.url, f"{prefix}-*") == n
    assert {h["_index"] for h in search(osmem.url, f"{prefix}-*")} == {f"{prefix}-2026.11.22"}


def test_backfill_shows_progress_with_lines_per_second(osmem: Process, tmp_path: Path, corpus_dir: Path) -> None:
    """The progress bar reports lines/s and bytes."""
    res = CliRunner().invoke(cli, ["shipper", "backfill", "--hosts", osmem.url, "--index-prefix", _prefix(),
                                   "--state", str(tmp_path / "s"), "--progress", str(corpus_dir / "gin.log")])
    assert res.exit_code == 0, res.output
    assert "lines/s" in res.output


def test_check_reports_config_patterns_and_store(osmem: Process, tmp_path: Path) -> None:
    """``check`` validates the file, compiles the patterns and names the store it reached."""
    cfg = tmp_path / "shipper.yml"
    cfg.write_text(shipper_yaml(osmem.url, str(tmp_path / "*.log"), tmp_path / "state", "chk"))
    res = CliRunner().invoke(cli, ["shipper", "check", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "opensearch 3." in res.output


def test_check_fails_on_unreachable_store(tmp_path: Path) -> None:
    """``check`` exits 1 with a clear message when the store cannot be reached."""
    res = CliRunner().invoke(cli, ["shipper", "check", "--hosts", f"http://127.0.0.1:{free_port()}"])
    assert res.exit_code == 1
    assert "store unreachable" in res.output


def test_bad_config_names_file_line_and_field(tmp_path: Path) -> None:
    """A bad value is reported as file:line: field: problem, exit 2."""
    cfg = tmp_path / "shipper.yml"
    cfg.write_text("inputs:\n  - paths: ['/x/*.log']\n    sample: 3\n    drop_regex: ['(']\nsink:\n  hosts: [nope]\n")
    res = CliRunner().invoke(cli, ["shipper", "check", "--config", str(cfg)])
    assert res.exit_code == 2
    assert f"{cfg}:3: inputs[0].sample:" in res.output
    assert f"{cfg}:4: inputs[0].drop_regex:" in res.output
    assert f"{cfg}:6: sink.hosts: invalid host" in res.output


def test_secrets_never_appear_in_errors(tmp_path: Path) -> None:
    """A password given by environment variable is not echoed when the store refuses or is unreachable."""
    env = {**os.environ, "CRONWATCH_SHIPPER_SINK__PASSWORD": "hunter2-secret", "CRONWATCH_SHIPPER_SINK__USERNAME": "u"}
    res = subprocess.run([CRONWATCH, "shipper", "check", "--hosts", f"http://127.0.0.1:{free_port()}"],
                         capture_output=True, env=env, timeout=60)
    assert res.returncode == 1
    assert b"hunter2" not in res.stdout + res.stderr


def test_embedded_store_for_trying_it_out(tmp_path: Path, corpus_dir: Path) -> None:
    """``--embedded`` starts osmem-server and ships into it."""
    started = time.monotonic()
    res = CliRunner().invoke(cli, ["shipper", "backfill", "--embedded", "--state", str(tmp_path / "s"),
                                   str(corpus_dir / "go-std.log")])
    assert res.exit_code == 0, res.output
    assert "embedded store" in res.output and "4 indexed" in res.output
    assert time.monotonic() - started < 60


def test_corrupt_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    """A corrupt checkpoint file stops the shipper with a message naming it (exit 1), never a silent restart."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "checkpoints.json").write_text('{"version": 1, "files": [{"key": 1}]}')
    res = CliRunner().invoke(cli, ["shipper", "check", "--state", str(state), "--hosts", "http://127.0.0.1:9"])
    assert res.exit_code == 1
    assert f"{state / 'checkpoints.json'}: corrupt checkpoint file" in res.output


def test_credentials_in_host_urls_are_redacted() -> None:
    """A user:password in a host URL never appears in messages."""
    from shipper.sink.service import redact_url

    assert redact_url("https://elastic:s3cret@es.example:9200/x") == "https://[REDACTED]@es.example:9200/x"
    assert redact_url("http://localhost:9200") == "http://localhost:9200"


def test_sigterm_while_waiting_for_the_store_exits_cleanly(tmp_path: Path) -> None:
    """``run`` waiting for an unreachable store at start-up exits 0 on SIGTERM instead of hanging."""
    (tmp_path / "a.log").write_text("x\n")
    log = tmp_path / "shipper.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([CRONWATCH, "shipper", "run", "--path", str(tmp_path / "*.log"), "--hosts",
                                 f"http://127.0.0.1:{free_port()}", "--state", str(tmp_path / "state")],
                                stdout=out, stderr=out)
    try:
        wait_until(lambda: "store not reachable" in log.read_text(), 30, "retrying at start-up", proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopped before the store could be reached" in log.read_text()


def test_example_configuration_is_valid() -> None:
    """``examples/shipper.yml`` loads with every documented setting."""
    from cronwatch.config import load_config
    from shipper.config import ShipperConfig

    cfg = load_config(Path(__file__).resolve().parents[3] / "examples" / "shipper.yml", ShipperConfig,
                      environ={"ES_PASSWORD": "x"})
    assert cfg.inputs[0].error_index_prefix == "cronwatch-errors"
    assert cfg.sink.password is not None and cfg.sink.password.get_secret_value() == "x"


def test_tz_flag_reads_zoneless_times_and_names_the_day(osmem: Process, tmp_path: Path) -> None:
    """``--tz Asia/Shanghai`` reads ``2026/11/22 03:00:00`` as 19:00 UTC the day before, indexed in the local day."""
    log = tmp_path / "go.log"
    log.write_text("2026/11/22 03:00:00 开始执行数据归档\n")
    prefix = _prefix()
    res = CliRunner().invoke(cli, ["shipper", "backfill", "--hosts", osmem.url, "--index-prefix", prefix,
                                   "--tz", "Asia/Shanghai", "--state", str(tmp_path / "s"), str(log)])
    assert res.exit_code == 0, res.output
    (hit,) = search(osmem.url, f"{prefix}-*")
    assert hit["_source"]["@timestamp"] == "2026-11-21T19:00:00.000Z"
    assert hit["_index"] == f"{prefix}-2026.11.22"
