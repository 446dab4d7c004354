"""Schedules: cron semantics (DOM/DOW, L, #, names, seconds), DST, @every grid, errors, ``scheduler next``."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from scheduler.cli import scheduler
from scheduler.errors import ScheduleError
from scheduler.triggers import EveryTrigger, parse_schedule, upcoming


def fires(expr: str, after: str, n: int, tz: str = "UTC") -> list[str]:
    """The next ``n`` fire times of ``expr`` after ``after`` (ISO, local in ``tz``), as local ISO strings."""
    zone = ZoneInfo(tz) if tz != "UTC" else UTC
    start = datetime.fromisoformat(after)
    if start.tzinfo is None:
        start = start.replace(tzinfo=zone)
    trig = parse_schedule(expr, tz)
    return [datetime.fromtimestamp(t, zone).isoformat() for t in upcoming(trig, start.timestamp(), n)]


def test_dom_and_dow_both_restricted_is_or() -> None:
    """Day-of-month 13 and Friday both restricted fire on every 13th and on every Friday (crontab(5))."""
    got = fires("0 0 13 * fri", "2026-11-01T00:00", 4)
    assert got == ["2026-11-06T00:00:00+00:00", "2026-11-13T00:00:00+00:00",
                   "2026-11-20T00:00:00+00:00", "2026-11-27T00:00:00+00:00"]
    assert fires("0 0 1 * mon", "2026-11-28T00:00", 2) == ["2026-11-30T00:00:00+00:00", "2026-12-01T00:00:00+00:00"]


def test_star_in_dow_makes_it_and() -> None:
    """Vixie's rule: a field starting with ``*`` (``*/2``) makes DOM and DOW an AND."""
    # Every other day of the week from Sunday (sun, tue, thu, sat) AND on the 1st..7th.
    got = fires("0 0 1-7 * */2", "2026-11-30T00:00", 3)
    assert got == ["2026-12-01T00:00:00+00:00", "2026-12-03T00:00:00+00:00", "2026-12-05T00:00:00+00:00"]


def test_names_ranges_steps_lists() -> None:
    """Month and day names, ranges, steps and lists are accepted, case-insensitively."""
    assert fires("15 9-17/4 * jan,Jul mon-fri", "2027-01-01T00:00", 3) == [
        "2027-01-01T09:15:00+00:00", "2027-01-01T13:15:00+00:00", "2027-01-01T17:15:00+00:00"]


def test_last_day_and_nth_weekday() -> None:
    """``L`` (last day of month), ``5L`` (last Friday) and ``mon#2`` (second Monday) work."""
    assert fires("0 0 L * *", "2027-01-15T00:00", 2) == ["2027-01-31T00:00:00+00:00", "2027-02-28T00:00:00+00:00"]
    assert fires("0 0 * * 5L", "2026-11-01T00:00", 1) == ["2026-11-27T00:00:00+00:00"]
    assert fires("0 0 * * mon#2", "2026-11-01T00:00", 1) == ["2026-11-09T00:00:00+00:00"]


def test_seconds_field_and_quartz_question_mark() -> None:
    """A 6-field expression has seconds first (robfig's WithSeconds); ``?`` reads as ``*``."""
    assert fires("*/20 * * * * *", "2026-11-22T02:00:00", 3) == [
        "2026-11-22T02:00:20+00:00", "2026-11-22T02:00:40+00:00", "2026-11-22T02:01:00+00:00"]
    assert fires("0 30 1 ? * MON", "2026-11-22T00:00", 1) == ["2026-11-23T01:30:00+00:00"]


def test_macros() -> None:
    """``@daily``, ``@hourly``, ``@weekly``, ``@monthly`` and ``@yearly`` are the usual cron lines."""
    assert fires("@daily", "2026-11-22T10:00", 1) == ["2026-11-23T00:00:00+00:00"]
    assert fires("@hourly", "2026-11-22T10:10", 1) == ["2026-11-22T11:00:00+00:00"]
    assert fires("@weekly", "2026-11-22T10:00", 1) == ["2026-11-29T00:00:00+00:00"]
    assert fires("@monthly", "2026-11-22T10:00", 1) == ["2026-12-01T00:00:00+00:00"]
    assert fires("@yearly", "2026-11-22T10:00", 1) == ["2027-01-01T00:00:00+00:00"]


def test_dst_spring_forward_skipped_time_runs_right_after_the_jump() -> None:
    """Berlin skips 02:00-03:00 on 2027-03-28: a 02:30 job runs at 03:00, once, then at 02:30 again."""
    assert fires("30 2 * * *", "2027-03-27T12:00", 3, "Europe/Berlin") == [
        "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00", "2027-03-30T02:30:00+02:00"]


def test_dst_fall_back_repeated_time_runs_once() -> None:
    """New York repeats 01:00-02:00 on 2026-11-01: a 01:30 job runs once that day."""
    got = fires("30 1 * * *", "2026-10-31T12:00", 3, "America/New_York")
    assert got == ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00", "2026-11-03T01:30:00-05:00"]


def test_dst_fall_back_asking_from_inside_the_repeated_hour_does_not_go_back() -> None:
    """Starting inside the second 01:xx, a 01:45 job does not fire again the same night."""
    zone = ZoneInfo("America/New_York")
    inside = datetime(2026, 11, 1, 1, 30, tzinfo=zone, fold=1)  # the second 01:30 (EST)
    trig = parse_schedule("45 1 * * *", "America/New_York")
    nxt = trig.next_after(inside.timestamp())
    assert nxt is not None and nxt > inside.timestamp()
    assert datetime.fromtimestamp(nxt, zone).isoformat() == "2026-11-02T01:45:00-05:00"


def test_sub_hourly_jobs_follow_the_real_clock_across_dst() -> None:
    """``*/30`` fires in both copies of the repeated hour: it follows elapsed time, not wall time."""
    got = fires("*/30 * * * *", "2026-11-01T00:50-04:00", 4, "America/New_York")
    assert got == ["2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00",
                   "2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00"]


def test_every_is_anchored_to_an_epoch_grid() -> None:
    """``@every 7s`` fires at multiples of 7 s since the epoch, whatever the start time."""
    trig = parse_schedule("@every 7s")
    assert isinstance(trig, EveryTrigger)
    t1 = trig.next_after(1_800_000_000.3)
    assert t1 % 7 == 0 and 1_800_000_000.3 < t1 <= 1_800_000_007.3
    assert trig.next_after(t1) == t1 + 7  # strictly after a slot: the next slot, never the same one
    assert trig.prev_at_or_before(t1 + 6.9) == t1
    assert trig.count_between(t1, t1 + 70) == 10


def test_every_sub_second_grid_has_no_float_drift() -> None:
    """``@every 100ms`` slots stay on exact 100 ms boundaries over many steps."""
    trig = parse_schedule("@every 100ms")
    t = 1_800_000_000.0
    for _ in range(1000):
        nxt = trig.next_after(t)
        assert nxt is not None
        t = nxt
    assert round(t * 1000) == 1_800_000_100_000


@pytest.mark.parametrize(("expr", "needle"), [
    ("0 61 * * *", 'hour field "61"'),
    ("61 * * * *", 'minute field "61"'),
    ("0 0 32 * *", 'day-of-month field "32"'),
    ("0 0 * 13 *", 'month field "13"'),
    ("0 0 * * funday", 'day-of-week field "FUNDAY"'),
    ("99 * * * * *", 'second field "99"'),
    ("* * *", "expected 5 fields"),
    ("@reboot", "unknown macro"),
    ("@every", "needs a duration"),
    ("@every 5 minutes", 'invalid duration "5 minutes"'),
])
def test_invalid_expressions_name_the_bad_field(expr: str, needle: str) -> None:
    """An invalid schedule raises ScheduleError whose message names the offending field."""
    with pytest.raises(ScheduleError) as info:
        parse_schedule(expr)
    assert needle.lower() in str(info.value).lower()


def test_unknown_time_zone_is_an_error() -> None:
    """A time zone that is not an IANA name is rejected with its name in the message."""
    with pytest.raises(ScheduleError, match="Mars/Olympus"):
        parse_schedule("0 0 * * *", "Mars/Olympus")


def test_cli_next_prints_iso_times_with_offset() -> None:
    """``scheduler next`` prints N fire times in the zone's offset, one per line."""
    result = CliRunner().invoke(scheduler, ["next", "0 2 * * *", "--tz", "Asia/Shanghai",
                                            "--after", "2026-11-21T12:00:00Z", "--count", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["2026-11-22T02:00:00+08:00", "2026-11-23T02:00:00+08:00"]


def test_cli_next_invalid_expression_exits_2_naming_the_field() -> None:
    """An invalid expression exits 2 with a message naming the bad field."""
    result = CliRunner().invoke(scheduler, ["next", "0 0 * * 8"])
    assert result.exit_code == 2
    assert 'day-of-week field "8"' in result.output


def test_cli_next_invalid_after_exits_2() -> None:
    """A malformed ``--after`` is reported as such, exit 2."""
    result = CliRunner().invoke(scheduler, ["next", "@hourly", "--after", "yesterday"])
    assert result.exit_code == 2
    assert "--after" in result.output


def test_top_level_cli_registers_the_scheduler_group() -> None:
    """``cronwatch scheduler next`` works through the one console command, exit 2 on a bad field."""
    from cronwatch.cli import cli

    ok = CliRunner().invoke(cli, ["scheduler", "next", "@every 90s", "--after", "2026-11-22T02:00:00Z", "-n", "1"])
    assert ok.exit_code == 0 and ok.output.strip() == "2026-11-22T02:01:30+00:00"
    bad = CliRunner().invoke(cli, ["scheduler", "next", "0 25 * * *"])
    assert bad.exit_code == 2 and 'hour field "25"' in bad.output
