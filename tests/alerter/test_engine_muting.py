"""Muting at flush time: inhibition rules, silences from the YAML file, mute/active time intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from engine_helpers import engine, firing, outbox, post, summary

from alerter.nflog import Entry
from alerter.notify import needs_update

CFG = """
route:
  receiver: out
  group_by: [alertname, task]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  - name: out
    file_configs: [{directory: outbox}]
inhibit_rules:
  - source_matchers: ['alertname="SchedulerDown"', 'severity="critical"']
    target_matchers: ['alertname="TaskMissed"']
    equal: [env]
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity=~"critical|warning"']
    equal: [task]
"""


async def test_scheduler_down_mutes_missed_runs(tmp_path: Path) -> None:
    """A critical SchedulerDown mutes TaskMissed warnings of the same env only, and not after it resolves."""
    e, clk = engine(CFG, tmp_path)
    post(e, firing({"alertname": "SchedulerDown", "severity": "critical", "env": "prod"}, clk, lasts=90),
         firing({"alertname": "TaskMissed", "severity": "warning", "task": "a", "env": "prod"}, clk, lasts=600),
         firing({"alertname": "TaskMissed", "severity": "warning", "task": "b", "env": "dev"}, clk, lasts=600))
    await e.run_due()
    got = sorted(a for s in summary(outbox(tmp_path / "outbox")) for a in s[2])
    assert got == [("SchedulerDown", "firing"), ("b", "firing")]  # and the dev miss
    clk.advance(120)  # SchedulerDown resolved (endsAt passed): the prod miss is no longer inhibited
    await e.run_due()
    assert ("a", "firing") in [a for s in summary(outbox(tmp_path / "outbox")) for a in s[2]]
    await e.stop()


async def test_two_sided_rule_does_not_mute_itself(tmp_path: Path) -> None:
    """An alert matching both sides cannot inhibit another alert that also matches both sides."""
    e, clk = engine(CFG, tmp_path)
    crit = {"alertname": "TaskFailed", "severity": "critical", "task": "x"}
    warn = {"alertname": "TaskSlow", "severity": "warning", "task": "x"}
    post(e, firing(crit, clk), firing(warn, clk))
    now = clk.now()
    fps = {a.labels["alertname"]: a for a in e.store}
    assert e.muted_by(fps["TaskFailed"], now) == ([], [])
    assert e.muted_by(fps["TaskSlow"], now)[1] == [fps["TaskFailed"].fingerprint]
    await e.stop()


async def test_silence_file_mutes_and_reloads(tmp_path: Path) -> None:
    """Silences in the YAML file mute matching alerts; editing the file takes effect on the next check."""
    (tmp_path / "silences.yml").write_text(
        "silences:\n  - id: s1\n    matchers: ['task=~\"db_.*\"']\n"
        "    starts_at: 2026-11-23T00:00:00Z\n    ends_at: 2026-11-23T03:00:00Z\n")
    e, clk = engine(CFG + "silences_file: silences.yml\n", tmp_path)
    post(e, firing({"alertname": "TaskFailed", "task": "db_backup"}, clk, lasts=7200),
         firing({"alertname": "TaskFailed", "task": "report"}, clk, lasts=7200))
    await e.run_due()
    assert [s[2] for s in summary(outbox(tmp_path / "outbox"))] == [[("report", "firing")]]
    (tmp_path / "silences.yml").write_text("silences: []\n")
    e.refresh_silences()
    clk.advance(60)
    await e.run_due()
    assert [("db_backup", "firing")] in [s[2] for s in summary(outbox(tmp_path / "outbox"))]
    await e.stop()


async def test_quiet_hours_and_active_hours(tmp_path: Path) -> None:
    """mute_time_intervals silence a route during quiet hours; active_time_intervals only allow office hours."""
    cfg = """
route:
  receiver: out
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  routes:
    - matchers: ['severity="info"']
      active_time_intervals: [office]
    - matchers: ['severity="warning"']
      mute_time_intervals: [night]
receivers:
  - name: out
    file_configs: [{directory: outbox}]
time_intervals:
  - name: night
    time_intervals: [{times: [{start_time: "00:00", end_time: "06:00"}]}]
mute_time_intervals:
  - name: office
    time_intervals: [{weekdays: ['monday:friday'], times: [{start_time: "09:00", end_time: "17:00"}]}]
"""
    e, clk = engine(cfg, tmp_path)  # Monday 02:00 UTC
    post(e, firing({"alertname": "Info", "severity": "info"}, clk, lasts=86400),
         firing({"alertname": "Warn", "severity": "warning"}, clk, lasts=86400))
    await e.run_due()
    assert outbox(tmp_path / "outbox") == []
    clk.advance(4 * 3600)  # 06:00: the night is over, still outside office hours
    await e.run_due()
    assert [s[2] for s in summary(outbox(tmp_path / "outbox"))] == [[("Warn", "firing")]]
    clk.advance(3 * 3600)  # 09:00 Monday
    await e.run_due()
    assert [("Info", "firing")] in [s[2] for s in summary(outbox(tmp_path / "outbox"))]
    await e.stop()


async def test_tiers_send_to_each_tier_receiver(tmp_path: Path) -> None:
    """A critical alert goes to every receiver of the critical tier, each writing its own notification."""
    cfg = """
route: {receiver: fallback, group_by: [alertname], group_wait: 0s}
tiers:
  critical: {receivers: [pager, mail], repeat_interval: 30m}
receivers:
  - {name: fallback, file_configs: [{directory: fallback}]}
  - {name: pager, file_configs: [{directory: outbox}]}
  - {name: mail, file_configs: [{directory: outbox}]}
"""
    e, clk = engine(cfg, tmp_path)
    post(e, firing({"alertname": "Down", "severity": "critical"}, clk, lasts=7200),
         firing({"alertname": "Slow", "severity": "warning"}, clk, lasts=7200))
    await e.run_due()
    assert sorted(s[0] for s in summary(outbox(tmp_path / "outbox"))) == ["mail", "pager"]
    assert [s[2] for s in summary(outbox(tmp_path / "fallback"))] == [[("Slow", "firing")]]
    clk.advance(1800)
    await e.run_due()
    assert len(outbox(tmp_path / "outbox")) == 4  # critical tier repeats every 30 m
    await e.stop()


T = datetime(2026, 11, 23, tzinfo=UTC)


def test_needs_update_table() -> None:
    """The dedup decision follows Alertmanager's rules case by case."""
    e = Entry(frozenset({"a"}), frozenset(), T)
    rep = timedelta(hours=1)
    assert needs_update(None, frozenset({"a"}), frozenset(), True, rep, T)
    assert not needs_update(None, frozenset(), frozenset({"a"}), True, rep, T)  # never told: stay quiet
    assert needs_update(e, frozenset({"a", "b"}), frozenset(), True, rep, T)  # new firing alert
    assert not needs_update(e, frozenset({"a"}), frozenset(), True, rep, T + timedelta(minutes=59))
    assert needs_update(e, frozenset({"a"}), frozenset(), True, rep, T + rep)
    assert needs_update(e, frozenset(), frozenset({"a"}), False, rep, T)  # all resolved: clear, once
    done = Entry(frozenset(), frozenset({"a"}), T)
    assert not needs_update(done, frozenset(), frozenset({"a"}), True, rep, T + timedelta(minutes=1))
    part = Entry(frozenset({"a", "b"}), frozenset(), T)
    assert needs_update(part, frozenset({"a"}), frozenset({"b"}), True, rep, T)
    assert not needs_update(part, frozenset({"a"}), frozenset({"b"}), False, rep, T)


async def test_invalid_silences_file_keeps_last_good_and_says_so(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """A broken edit of the silences file is logged with file:line, flips the metric, and the old silences hold."""
    import logging

    (tmp_path / "silences.yml").write_text(
        "silences:\n  - matchers: ['task=\"db_backup\"']\n    ends_at: 2026-11-24T00:00:00Z\n")
    e, clk = engine(CFG + "silences_file: silences.yml\n", tmp_path)
    (tmp_path / "silences.yml").write_text("silences:\n  - matchers: ['task=\"db_backup\"']\n")
    with caplog.at_level(logging.ERROR, logger="cronwatch.alerter"):
        e.housekeeping()
    assert e.metrics.registry.get_sample_value("cronwatch_alerter_silences_last_reload_successful") == 0
    problems = [r.__dict__.get("alerter.problems") for r in caplog.records if r.__dict__.get("alerter.problems")]
    assert problems and "silences.yml:2: silences[0]: ends_at is required" in problems[0][0]
    post(e, firing({"alertname": "TaskFailed", "task": "db_backup"}, clk))
    await e.run_due()
    assert outbox(tmp_path / "outbox") == []  # the last good silence still mutes
    await e.stop()
