"""Time stamps: every common form to UTC with milliseconds; zones, DST, epoch units, no-year syslog."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parse_helpers import one

from shipper.parse.timestamps import TimestampParser


def epoch(text: str) -> float:
    """Epoch seconds of an ISO time in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-22T02:00:00.123Z", "2026-11-22T02:00:00.123Z"),
    ("2026-11-22T10:00:00+08:00", "2026-11-22T02:00:00.000Z"),
    ("2026-11-22T10:00:00.000+0800", "2026-11-22T02:00:00.000Z"),
    ("2026-11-22 10:15:00,004", "2026-11-22T10:15:00.004Z"),
    ("2026-11-22 10:15:00.0041234", "2026-11-22T10:15:00.004Z"),
    ("2026-11-22T10:15:00.9", "2026-11-22T10:15:00.900Z"),
    ("2026-11-22 10:00:00.000412 +0800 CST", "2026-11-22T02:00:00.000Z"),
    ("2026-11-22 10:00:00.000412 +0800 CST m=+0.001", "2026-11-22T02:00:00.000Z"),
    ("2026-11-22 02:00:00 +0000 UTC", "2026-11-22T02:00:00.000Z"),
    ("2026/11/22 10:00:00", "2026-11-22T10:00:00.000Z"),
    ("2026/11/22 - 10:00:00", "2026-11-22T10:00:00.000Z"),
    ("22/Nov/2026:10:00:00 +0800", "2026-11-22T02:00:00.000Z"),
    ("Sun, 22 Nov 2026 10:00:00 +0800", "2026-11-22T02:00:00.000Z"),
    ("Sun Nov 22 02:00:00 2026", "2026-11-22T02:00:00.000Z"),
    ("2026-11-22", "2026-11-22T00:00:00.000Z"),
])
def test_string_forms_utc(value: str, expected: str) -> None:
    """Strings in each common form become UTC RFC 3339 with milliseconds (zone-less = UTC by default)."""
    assert TimestampParser().parse(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (1795312800, "2026-11-22T02:00:00.000Z"),
    (1795312800.5, "2026-11-22T02:00:00.500Z"),
    (1795312920.001, "2026-11-22T02:02:00.001Z"),
    (1795312800123, "2026-11-22T02:00:00.123Z"),
    (1795312800123456, "2026-11-22T02:00:00.123Z"),
    (1795312800123456789, "2026-11-22T02:00:00.123Z"),
    ("1795312800", "2026-11-22T02:00:00.000Z"),
    ("1795312800.25", "2026-11-22T02:00:00.250Z"),
    ("1795312800123", "2026-11-22T02:00:00.123Z"),
])
def test_epoch_units(value: object, expected: str) -> None:
    """Epoch s/ms/µs/ns (int, float or digit string) are told apart by size, without float drift."""
    assert TimestampParser().parse(value) == expected


@pytest.mark.parametrize("value", ["not a time", "2026-13-40 25:00:00", "", "Foo 22 10:00:00", True, None,
                                   -5, float("nan"), [1], "1e400"])
def test_unparseable_is_none(value: object) -> None:
    """Anything that is not a time stamp gives None (the caller tags it), never an exception."""
    assert TimestampParser().parse(value) is None


def test_configured_zone_for_zoneless_times_only() -> None:
    """The input's zone applies to times without one; explicit offsets win."""
    tp = TimestampParser("Asia/Shanghai")
    assert tp.parse("2026-11-22 10:00:00") == "2026-11-22T02:00:00.000Z"
    assert tp.parse("2026-11-22T10:00:00Z") == "2026-11-22T10:00:00.000Z"
    assert tp.parse("2026-11-22T10:00:00-05:00") == "2026-11-22T15:00:00.000Z"
    assert tp.parse(1795312800) == "2026-11-22T02:00:00.000Z"


def test_dst_gap_and_overlap() -> None:
    """New York: a skipped time lands just after the jump; a repeated time is its first occurrence."""
    tp = TimestampParser("America/New_York")
    assert tp.parse("2026-03-08 01:59:59") == "2026-03-08T06:59:59.000Z"
    assert tp.parse("2026-03-08 02:30:00") == "2026-03-08T07:30:00.000Z"  # = 03:30 EDT
    assert tp.parse("2026-03-08 03:00:00") == "2026-03-08T07:00:00.000Z"
    assert tp.parse("2026-11-01 01:30:00") == "2026-11-01T05:30:00.000Z"  # first 01:30 (EDT)
    assert tp.parse("2026-11-01 02:30:00") == "2026-11-01T07:30:00.000Z"


def test_cache_does_not_mix_zones_or_separators() -> None:
    """Cached seconds are keyed by how the time was written, so zones and forms never leak."""
    tp = TimestampParser("Asia/Shanghai")
    assert tp.parse("2026-11-22 10:00:00.100") == "2026-11-22T02:00:00.100Z"
    assert tp.parse("2026-11-22 10:00:00.200Z") == "2026-11-22T10:00:00.200Z"
    assert tp.parse("2026-11-22 10:00:00.300") == "2026-11-22T02:00:00.300Z"
    assert tp.parse("2026-11-22 10:00:00") == "2026-11-22T02:00:00.000Z"
    assert tp.parse("2026-11-22 10:00:00.3x0") is None


def test_syslog_year_inference_across_new_year() -> None:
    """A syslog time without a year is never put far in the future: Dec 31 read on Jan 1 is last year."""
    tp = TimestampParser()
    jan1 = epoch("2027-01-01T00:00:30")
    assert tp.parse("Dec 31 23:59:59", jan1) == "2026-12-31T23:59:59.000Z"
    assert tp.parse("Jan  1 00:00:10", jan1) == "2027-01-01T00:00:10.000Z"
    dec31 = epoch("2026-12-31T23:59:00")
    assert tp.parse("Jan  1 00:00:05", dec31) == "2027-01-01T00:00:05.000Z"  # the writer's clock is ahead
    assert tp.parse("Nov 22 10:00:01", epoch("2026-11-22T10:00:05")) == "2026-11-22T10:00:01.000Z"
    assert tp.parse("Feb 29 10:00:00", epoch("2027-03-01T00:00:00")) == "2024-02-29T10:00:00.000Z"


def test_syslog_year_in_local_zone() -> None:
    """With a zone configured, a syslog line is local time and its year is the local year."""
    tp = TimestampParser("Asia/Shanghai")
    assert tp.parse("Jan  1 00:00:10", epoch("2026-12-31T16:00:30")) == "2026-12-31T16:00:10.000Z"


def test_bad_time_keeps_original_and_uses_read_time() -> None:
    """An unparseable time: read time as ``@timestamp``, ``_dateparsefailure``, original kept in ``extra``."""
    doc = one('{"time": "yesterday-ish", "msg": "hi"}')
    assert doc["@timestamp"] == "2026-11-22T02:00:00.000Z"
    assert doc["tags"] == ["_dateparsefailure"]
    assert doc["extra"] == {"time": "yesterday-ish"}


def test_line_without_time_uses_read_time_without_tag() -> None:
    """A plain line has no time of its own: the read time is used and nothing is tagged."""
    doc = one("Starting work")
    assert doc["@timestamp"] == "2026-11-22T02:00:00.000Z" and "tags" not in doc


def test_machine_zone_is_the_default_for_zoneless_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``timezone``, zone-less times are read in the machine's zone (``TZ``), not assumed UTC."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    assert one("2026-11-22 10:00:00,250 INFO [x] local")["@timestamp"] == "2026-11-22T02:00:00.250Z"
    assert one("2026-11-22T10:00:00Z INFO explicit")["@timestamp"] == "2026-11-22T10:00:00.000Z"
    monkeypatch.setenv("TZ", "Not/AZone")
    assert one("2026-11-22 10:00:00 INFO x")["@timestamp"].endswith("Z")  # falls back, never fails


def test_best_time_field_wins_whatever_the_order() -> None:
    """``time`` beats a business ``date`` written before it; the other stays in ``extra``."""
    doc = one('{"date": "2026-01-01", "msg": "x", "time": "2026-11-22T02:00:00Z"}')
    assert doc["@timestamp"] == "2026-11-22T02:00:00.000Z" and doc["extra"] == {"date": "2026-01-01"}
    grok = one("2026-01-01 2026-11-22T02:00:00Z hi", codec="grok",
               patterns=["%{DATE_ISO:date} %{TIMESTAMP_ISO8601:time} %{GREEDYDATA:message}"])
    assert grok["@timestamp"] == "2026-11-22T02:00:00.000Z" and grok["extra"] == {"date": "2026-01-01"}


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from(
    [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")])))
def test_utc_second_is_strftime(dt: datetime) -> None:
    """The isoformat shortcut writes what strftime writes (years below 1000 included)."""
    from shipper.parse.timestamps import _utc_second

    assert _utc_second(dt) == dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Europe/Amsterdam", "Asia/Kolkata",
         "Pacific/Chatham", "America/St_Johns", "Africa/Monrovia", "Asia/Shanghai"]


@settings(max_examples=400, deadline=None)
@given(st.datetimes(min_value=datetime(1850, 1, 1), max_value=datetime(2100, 12, 31)), st.sampled_from(ZONES),
       st.permutations(range(60)), st.sampled_from(["", "Z", "+05:30", "-0319", "+08"]))
def test_every_second_of_a_minute_converts_as_on_its_own(start: datetime, zone: str, order: list[int],
                                                         suffix: str) -> None:
    """The per-minute cache gives each second what converting that second alone gives (DST, odd offsets)."""
    from shipper.parse.timestamps import _utc_second

    parser = TimestampParser(zone)
    for s in order[:20]:
        local = start.replace(second=s, microsecond=0)
        text = local.strftime("%Y-%m-%d %H:%M:%S") + f",{s * 7 % 1000:03d}" + suffix
        if not suffix:
            tz = ZoneInfo(zone)
        elif suffix == "Z":
            tz = UTC
        else:
            from shipper.parse.timestamps import _offset

            tz = _offset(suffix)
        want = f"{_utc_second(local.replace(tzinfo=tz))}.{s * 7 % 1000:03d}Z"
        assert parser.parse(text) == want, text
        assert parser.parse(text) == want, text  # again, from the caches


def test_minutes_around_transitions_convert_as_seconds_alone() -> None:
    """Every second of the minutes around DST changes and an old local mean time."""
    from shipper.parse.timestamps import _utc_second

    cases = [("Europe/Berlin", datetime(2026, 3, 29, 1, 58)), ("Europe/Berlin", datetime(2026, 10, 25, 1, 58)),
             ("America/New_York", datetime(2026, 3, 8, 1, 58)), ("America/New_York", datetime(2026, 11, 1, 0, 58)),
             ("Australia/Lord_Howe", datetime(2026, 4, 5, 1, 28)), ("Europe/Amsterdam", datetime(1920, 6, 1, 12, 0)),
             ("Africa/Monrovia", datetime(1971, 12, 31, 23, 58))]
    for zone, begin in cases:
        parser = TimestampParser(zone)
        for minute in range(6):
            for s in range(60):
                local = begin.replace(second=s) + (datetime(2000, 1, 1, 0, minute) - datetime(2000, 1, 1))
                text = local.strftime("%Y-%m-%d %H:%M:%S")
                assert parser.parse(text) == f"{_utc_second(local.replace(tzinfo=ZoneInfo(zone)))}.000Z", (zone, text)


@pytest.mark.parametrize("text", ["2026-11-22T10:00:00+99:00", "2026-11-22T10:00:00+23:99", "2026-02-30T10:00:00Z"])
def test_impossible_offsets_and_dates_are_not_time_stamps(text: str) -> None:
    """An offset of a day or more is refused like an impossible date (it used to raise ValueError)."""
    assert TimestampParser("UTC").parse(text) is None
