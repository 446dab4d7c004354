"""Grouping timers, dedup, resolution and restarts, driven by a fake clock through the real file receiver."""

from __future__ import annotations

from pathlib import Path

from engine_helpers import engine, firing, outbox, post, resolved, summary

CFG = """
route:
  receiver: out
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers:
  - name: out
    file_configs: [{directory: outbox}]
"""


async def test_group_wait_then_interval(tmp_path: Path) -> None:
    """The first flush waits group_wait; alerts joining later wait for the next group_interval."""
    e, clk = engine(CFG, tmp_path)
    post(e, firing({"alertname": "TaskFailed", "task": "a"}, clk, lasts=3600))
    clk.advance(29)
    assert await e.run_due() == 0
    clk.advance(1)
    assert await e.run_due() == 1
    assert summary(outbox(tmp_path / "outbox")) == [("out", "firing", [("a", "firing")])]
    clk.advance(60)
    post(e, firing({"alertname": "TaskFailed", "task": "b"}, clk, lasts=3600))
    assert await e.run_due() == 0
    clk.advance(239)
    assert await e.run_due() == 0
    clk.advance(1)
    assert await e.run_due() == 1
    assert summary(outbox(tmp_path / "outbox"))[-1] == ("out", "firing", [("a", "firing"), ("b", "firing")])
    await e.stop()


async def test_old_alert_flushes_at_once(tmp_path: Path) -> None:
    """An alert that started longer than group_wait ago is flushed at once (Alertmanager's rule)."""
    e, clk = engine(CFG, tmp_path)
    post(e, firing({"alertname": "Old"}, clk, starts_ago=120))
    assert await e.run_due() == 1
    assert len(outbox(tmp_path / "outbox")) == 1
    await e.stop()


async def test_repeat_interval_and_single_resolved(tmp_path: Path) -> None:
    """Unchanged groups repeat only after repeat_interval; the resolved message is sent once, not every minute."""
    e, clk = engine(CFG, tmp_path)
    labels = {"alertname": "TaskFailed", "task": "a"}
    post(e, firing(labels, clk))
    clk.advance(30)
    await e.run_due()
    for _ in range(11):  # Prometheus re-sends every minute; flushes every 5 minutes
        for _ in range(5):
            clk.advance(60)
            post(e, firing(labels, clk))
        await e.run_due()
    assert len(outbox(tmp_path / "outbox")) == 1  # 55 minutes: no repeat yet
    clk.advance(300)
    post(e, firing(labels, clk))
    await e.run_due()
    assert len(outbox(tmp_path / "outbox")) == 2  # 1 h passed: one repeat
    post(e, resolved(labels, clk))
    for _ in range(15):  # Prometheus re-sends the resolved alert for 15 minutes
        clk.advance(60)
        post(e, resolved(labels, clk, starts_ago=3600))
        await e.run_due()
    sent = summary(outbox(tmp_path / "outbox"))
    assert sent[2:] == [("out", "resolved", [("a", "resolved")])]
    assert not e.groups  # the group is gone once the resolved notification went out
    await e.stop()


async def test_resolve_timeout_resolves_silent_alerts(tmp_path: Path) -> None:
    """An alert posted without endsAt resolves after global.resolve_timeout when not re-sent."""
    e, clk = engine(CFG + "global: {resolve_timeout: 2m}\n", tmp_path)
    post(e, {"labels": {"alertname": "Push", "task": "a"}})
    clk.advance(30)
    await e.run_due()
    clk.advance(300)
    await e.run_due()
    assert [s[1] for s in summary(outbox(tmp_path / "outbox"))] == ["firing", "resolved"]
    await e.stop()


async def test_merge_keeps_earliest_start_and_explicit_end(tmp_path: Path) -> None:
    """Re-sent alerts merge: the earliest startsAt stays, and a later explicit endsAt beats a timeout."""
    e, clk = engine(CFG, tmp_path)
    labels = {"alertname": "M"}
    first = post(e, firing(labels, clk, starts_ago=100, lasts=600))[0]
    clk.advance(10)
    post(e, {"labels": labels, "startsAt": clk.now().isoformat()})
    stored = e.store.get(first.fingerprint)
    assert stored is not None and stored.starts_at == first.starts_at
    assert stored.ends_at == first.ends_at and not stored.timeout
    await e.stop()


async def test_no_duplicate_after_restart(tmp_path: Path) -> None:
    """After a restart the notification log stops a repeat within repeat_interval, then allows it."""
    e, clk = engine(CFG, tmp_path)
    labels = {"alertname": "TaskFailed", "task": "a"}
    post(e, firing(labels, clk, lasts=7200))
    clk.advance(30)
    await e.run_due()
    await e.stop()
    e2, _ = engine(CFG, tmp_path, clock=clk)  # a new process: same state dir, nothing in memory
    clk.advance(60)
    post(e2, firing(labels, clk, starts_ago=90, lasts=7200))
    clk.advance(30)
    await e2.run_due()
    assert len(outbox(tmp_path / "outbox")) == 1
    clk.advance(3600)
    post(e2, firing(labels, clk, starts_ago=3700, lasts=7200))
    await e2.run_due()
    assert len(outbox(tmp_path / "outbox")) == 2
    await e2.stop()


async def test_resolved_before_first_flush_is_not_sent(tmp_path: Path) -> None:
    """An alert that fires and resolves before anything was sent produces no notification."""
    e, clk = engine(CFG, tmp_path)
    labels = {"alertname": "Blip"}
    post(e, firing(labels, clk))
    clk.advance(10)
    post(e, resolved(labels, clk, starts_ago=10))
    clk.advance(30)
    await e.run_due()
    assert outbox(tmp_path / "outbox") == []
    await e.stop()


async def test_flap_hold_delays_resolved(tmp_path: Path) -> None:
    """With flap_hold, a resolved alert is announced only after it stayed resolved that long."""
    e, clk = engine(CFG.replace("repeat_interval: 1h", "repeat_interval: 1h\n  flap_hold: 10m"), tmp_path)
    labels = {"alertname": "Flappy"}
    post(e, firing(labels, clk))
    clk.advance(30)
    await e.run_due()
    post(e, resolved(labels, clk, starts_ago=30))
    clk.advance(300)
    await e.run_due()
    assert len(outbox(tmp_path / "outbox")) == 1  # still held
    post(e, firing(labels, clk, starts_ago=1))  # fires again within the hold: nobody hears of the blip
    clk.advance(300)
    await e.run_due()
    assert len(outbox(tmp_path / "outbox")) == 1
    post(e, resolved(labels, clk, starts_ago=700))
    for _ in range(4):
        clk.advance(300)
        await e.run_due()
    assert [s[1] for s in summary(outbox(tmp_path / "outbox"))] == ["firing", "resolved"]
    await e.stop()
