"""The real amtool (Debian binary) against our API: alert query, silence add/query/expire; comments survive."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from engine_helpers import serve

CFG = """
route: {receiver: out, group_by: [alertname], group_wait: 1h}
receivers: [{name: out, file_configs: [{directory: outbox}]}]
silences_file: silences.yml
api: {token: amtool-secret}
"""
SILENCES = """\
# hand-written silences; amtool must keep this comment
silences:
  - id: nightly-etl   # the ETL window
    matchers: ['task="etl"']
    starts_at: 2026-01-01T00:00:00Z
    ends_at: 2099-01-01T00:00:00Z
    comment: keep me
"""


async def amtool(url: str, tmp_path: Path, *args: str) -> str:
    """Run amtool with our bearer token; fail the test with its stderr when it fails."""
    http_cfg = tmp_path / "amtool-http.yml"
    http_cfg.write_text("authorization:\n  credentials: amtool-secret\n")
    proc = await asyncio.create_subprocess_exec(
        "amtool", f"--alertmanager.url={url}", f"--http.config.file={http_cfg}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, f"amtool {' '.join(args)} failed: {err.decode()}"
    return out.decode()


@pytest.mark.timeout(60)
async def test_amtool_alerts_and_silences(tmp_path: Path) -> None:
    """amtool lists our alerts, adds a silence (written into the YAML with comments kept), queries and expires it."""
    (tmp_path / "silences.yml").write_text(SILENCES)
    a = await serve(CFG, tmp_path, start_loop=False)
    try:
        now = datetime.now(UTC)
        async with httpx.AsyncClient(base_url=a.url, headers={"Authorization": "Bearer amtool-secret"}) as c:
            await c.post("/api/v2/alerts", json=[
                {"labels": {"alertname": "TaskFailed", "task": "db_backup", "severity": "critical"},
                 "annotations": {"summary": "backup failed"}, "startsAt": now.isoformat(),
                 "endsAt": (now + timedelta(minutes=5)).isoformat()},
                {"labels": {"alertname": "TaskFailed", "task": "etl", "severity": "warning"},
                 "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=5)).isoformat()}])

        out = await amtool(a.url, tmp_path, "alert", "query", "-o", "extended")
        assert "db_backup" in out and "backup failed" in out and "etl" not in out  # etl is silenced
        out = await amtool(a.url, tmp_path, "alert", "query", "-o", "extended", "--silenced", "task=etl")
        assert "etl" in out
        out = await amtool(a.url, tmp_path, "alert", "query", "-o", "extended", "severity=~crit.*")
        assert "db_backup" in out

        sid = (await amtool(a.url, tmp_path, "silence", "add", "task=db_backup", "severity=~\"critical|warning\"",
                            "--duration=2h", "--comment=backup rework", "--author=alice")).strip()
        text = (tmp_path / "silences.yml").read_text()
        assert sid in text and "# hand-written silences; amtool must keep this comment" in text
        assert "# the ETL window" in text and "backup rework" in text

        out = await amtool(a.url, tmp_path, "silence", "query")
        assert sid in out and "nightly-etl" in out and "alice" in out
        out = await amtool(a.url, tmp_path, "silence", "query", "-q", "task=db_backup")
        assert out.split() == [sid]
        out = await amtool(a.url, tmp_path, "alert", "query", "-o", "extended")
        assert "db_backup" not in out

        await amtool(a.url, tmp_path, "silence", "expire", sid)
        out = await amtool(a.url, tmp_path, "silence", "query", "-q")
        assert sid not in out.split() and "nightly-etl" in out.split()
        out = await amtool(a.url, tmp_path, "silence", "query", "--expired", "-q")
        assert sid in out.split()
        await amtool(a.url, tmp_path, "silence", "expire", "nightly-etl")  # a hand-written id works too
        text = (tmp_path / "silences.yml").read_text()
        assert "# the ETL window" in text and "keep me" in text
        assert "db_backup" in await amtool(a.url, tmp_path, "alert", "query", "-o", "extended")
    finally:
        await a.stop()
