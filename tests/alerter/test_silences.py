"""Silences: matching, recurring windows, validation with file:line, and the YAML file as source of truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerter.errors import SilenceNotFound
from alerter.silencefile import SilenceFile, parse_silences
from alerter.silences import Silence, SilenceIndex
from cronwatch.errors import ConfigError

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

USER_FILE = """\
# Silences for the ops team — edit by hand, the alerter reloads this file.
silences:
  # the monthly DB maintenance
  - id: db-maintenance            # stable id
    matchers: ['task="db_backup"', 'severity=~"warning|info"']
    starts_at: 2026-11-22T22:00:00+08:00
    ends_at: 2026-11-23T16:00:00+08:00
    created_by: ops-oncall
    comment: DB maintenance window
  - matchers: ['env="staging"']   # staging is noisy at night
    every: {cron: "0 22 * * *", duration: 8h, timezone: Asia/Shanghai}
    comment: staging quiet hours
"""


def _one(**kw: object) -> Silence:
    base: dict[str, object] = {"matchers": ['task="x"'], "starts_at": NOW - timedelta(hours=1),
                               "ends_at": NOW + timedelta(hours=1)}
    return Silence.model_validate({**base, **kw})


@pytest.mark.parametrize(("matchers", "labels", "muted"), [
    (['task="db_backup"', 'severity=~"warning|info"'], {"task": "db_backup", "severity": "warning"}, True),
    (['task="db_backup"', 'severity=~"warning|info"'], {"task": "db_backup", "severity": "critical"}, False),
    (['task="db_backup"', 'severity=~"warning|info"'], {"task": "db_backup"}, False),  # absent = ""
    (['task="db_backup"', 'env=""'], {"task": "db_backup"}, True),
    (['task="db_backup"', 'env=""'], {"task": "db_backup", "env": "prod"}, False),
    (['task=~"db_.*"'], {"task": "db_backup"}, True),
    (['task=~"db"'], {"task": "db_backup"}, False),  # anchored, the surprise of alertmanager#3905
    (['task!~"web_.*"', 'team="db"'], {"team": "db", "task": "web_x"}, False),
])
def test_silence_matching(matchers: list[str], labels: dict[str, str], muted: bool) -> None:
    """A silence mutes only when every matcher matches, with absent labels as ""."""
    assert _one(matchers=matchers).mutes(labels, NOW) is muted


def test_silence_window_and_states() -> None:
    """A silence is pending before starts_at, active inside, expired from ends_at on."""
    s = _one(starts_at=NOW + timedelta(minutes=5), ends_at=NOW + timedelta(hours=1))
    assert s.state(NOW) == "pending" and not s.mutes({"task": "x"}, NOW)
    assert s.state(NOW + timedelta(minutes=5)) == "active"
    assert s.state(NOW + timedelta(hours=1)) == "expired"


def test_recurring_silence_in_its_time_zone() -> None:
    """``every`` opens an 8 h window at 22:00 Shanghai time each day and shows the next window when closed."""
    s = Silence.model_validate({"matchers": ['env="staging"'],
                                "every": {"cron": "0 22 * * *", "duration": "8h", "timezone": "Asia/Shanghai"}})
    labels = {"env": "staging"}
    assert s.mutes(labels, datetime(2026, 11, 23, 14, 0, tzinfo=UTC))  # 22:00 Shanghai
    assert s.mutes(labels, datetime(2026, 11, 23, 21, 59, tzinfo=UTC))  # 05:59 next day
    assert not s.mutes(labels, datetime(2026, 11, 23, 22, 0, tzinfo=UTC))  # 06:00: closed
    assert s.state(datetime(2026, 11, 23, 3, 0, tzinfo=UTC)) == "pending"
    start, end = s.shown_window(datetime(2026, 11, 23, 3, 0, tzinfo=UTC))
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (datetime(2026, 11, 23, 14, 0, tzinfo=UTC),
                                                            datetime(2026, 11, 23, 22, 0, tzinfo=UTC))


def test_file_errors_name_file_and_line(tmp_path: Path) -> None:
    """Every invalid entry is reported with file:line and field; none is silently dropped."""
    text = USER_FILE + """\
  - matchers: ['env=~".*"']
    ends_at: 2026-11-24T00:00:00Z
  - matchers: ['task="x"']
    starts_at: 2026-11-24 00:00:00
    ends_at: 2026-11-25T00:00:00Z
  - matchers: ['task=~"(("']
    ends_at: 2026-11-25T00:00:00Z
"""
    with pytest.raises(ConfigError) as err:
        parse_silences(text, "silences.yml")
    problems = err.value.problems
    assert any(p.startswith("silences.yml:13: silences[2]") and "empty value" in p for p in problems)
    assert any(p.startswith("silences.yml:16: silences[3].starts_at") and "time zone" in p for p in problems)
    assert any(p.startswith("silences.yml:18: silences[4].matchers") and "regular expression" in p
               for p in problems)


def test_add_and_expire_keep_comments_and_order(tmp_path: Path) -> None:
    """Adding and expiring through the store edits the file in place: comments, order and ids survive."""
    path = tmp_path / "silences.yml"
    path.write_text(USER_FILE)
    sf = SilenceFile(path)
    sf.load()
    sid = sf.add(_one(matchers=['task="report"'], comment="added by amtool", created_by="bob"))
    text = path.read_text()
    for line in USER_FILE.splitlines():
        assert line in text  # every original line (with its comments) is still there, in order
    assert text.index("db-maintenance") < text.index("staging quiet hours") < text.index(sid)
    assert sf.index.by_id[sid].mutes({"task": "report"}, NOW)

    staging = next(s for s in sf.index.silences if s.id is None)
    sf.expire(staging.uid, NOW)
    assert sf.index.by_id[staging.uid].state(NOW) == "expired"
    assert "# staging is noisy at night" in path.read_text()
    sf.expire("db-maintenance", NOW)
    assert "ends_at: '2026-11-23T02:00:00Z'" in path.read_text()
    with pytest.raises(SilenceNotFound):
        sf.expire("no-such-id", NOW)


def test_invalid_edit_keeps_last_good(tmp_path: Path) -> None:
    """A broken file is rejected whole and the previous silences stay in force until it is fixed."""
    path = tmp_path / "silences.yml"
    path.write_text(USER_FILE)
    sf = SilenceFile(path)
    sf.load()
    path.write_text(USER_FILE.replace('task="db_backup"', 'task~"db_backup"'))
    assert sf.reload_if_changed() is False
    assert sf.last_error is not None and "silences.yml:5" in sf.last_error.problems[0]
    assert "db-maintenance" in sf.index.by_id
    path.write_text(USER_FILE.replace("db-maintenance", "db-maint-2"))
    assert sf.reload_if_changed() is True
    assert "db-maint-2" in sf.index.by_id and sf.last_error is None


def test_index_agrees_with_linear_scan() -> None:
    """The label index finds exactly the silences a scan of all silences finds."""
    silences = [_one(matchers=[f'task="t{i % 50}"', f'severity=~"{"warning" if i % 3 else "critical|info"}"'])
                for i in range(300)] + [_one(matchers=['task=~"t1.*"'])]
    index = SilenceIndex(silences)
    for i in range(60):
        for sev in ("warning", "critical", "info", ""):
            labels = {"task": f"t{i}", "severity": sev} if sev else {"task": f"t{i}"}
            assert sorted(index.muted_by(labels, NOW)) == sorted(s.uid for s in silences if s.mutes(labels, NOW))


def test_edit_refused_while_file_is_invalid(tmp_path: Path) -> None:
    """While the user's file is broken, API/CLI edits are refused and the file is left exactly as it is."""
    from alerter.errors import SilenceError

    path = tmp_path / "silences.yml"
    path.write_text(USER_FILE)
    sf = SilenceFile(path)
    sf.load()
    broken = USER_FILE.replace("ends_at: 2026-11-23T16:00:00+08:00", "ends_at: tomorrow")
    path.write_text(broken)
    with pytest.raises(SilenceError, match=r"silences\.yml:7"):
        sf.add(_one(matchers=['task="y"']))
    with pytest.raises(SilenceError):
        sf.expire("db-maintenance", NOW)
    assert path.read_text() == broken


_NAMES = ("task", "env", "severity")
_VALUES = ("", "a", "b", "ab")


@st.composite
def _silence_matchers(draw: st.DrawFn) -> list[str]:
    out = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(_NAMES))
        op = draw(st.sampled_from(["=", "!=", "=~", "!~"]))
        value = draw(st.sampled_from((*_VALUES, "a|b", ".*", ".+", "a.*")) if "~" in op else st.sampled_from(_VALUES))
        out.append(f'{name}{op}"{value}"')
    return out


@settings(max_examples=300, deadline=None)
@given(matcher_sets=st.lists(_silence_matchers(), min_size=1, max_size=12),
       labels=st.lists(st.dictionaries(st.sampled_from(_NAMES), st.sampled_from(_VALUES)), min_size=1, max_size=8),
       expired=st.sets(st.integers(0, 11)))
def test_index_agrees_with_linear_scan_property(matcher_sets: list[list[str]], labels: list[dict[str, str]],
                                                expired: set[int]) -> None:
    """For any silences (equality, negative, regex, empty-value matchers; some expired) and any label sets
    (absent labels included), the index mutes exactly what checking every silence mutes."""
    silences = []
    for i, ms in enumerate(matcher_sets):
        ends = NOW - timedelta(minutes=1) if i in expired else NOW + timedelta(hours=1)
        try:
            silences.append(_one(matchers=ms, starts_at=NOW - timedelta(hours=2), ends_at=ends, comment=str(i)))
        except ValueError:
            continue  # matches the empty label set: refused, as Alertmanager refuses it
    index = SilenceIndex(silences)
    for ls in labels:
        assert sorted(index.muted_by(ls, NOW)) == sorted(s.uid for s in silences if s.mutes(ls, NOW))


def _many(n: int, tag: str) -> str:
    lines = ["silences:"]
    for i in range(n):
        lines += [f"  - matchers: ['task=\"{tag}-{i}\"', 'severity=~\"warning|critical\"']",
                  "    ends_at: 2099-01-01T00:00:00Z", f"    comment: silence {i}"]
    return "\n".join(lines) + "\n"


async def test_reload_off_the_loop_keeps_the_loop_responsive(tmp_path: Path) -> None:
    """A changed file is parsed on a thread: the loop keeps ticking meanwhile (the parse holds the loop
    only for GIL switch intervals), then the new silences are in force."""
    import asyncio
    import time

    from engine_helpers import engine

    path = tmp_path / "silences.yml"
    path.write_text(_many(1, "old"))
    e, _ = engine("route: {receiver: r}\nreceivers: [{name: r}]\nsilences_file: silences.yml\n", tmp_path)
    path.write_text(_many(600, "new"))
    lags: list[float] = []

    async def ticker() -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - t - 0.005)

    tick = asyncio.create_task(ticker())
    t0 = time.perf_counter()
    await e.reload_silences_off_loop()
    took = time.perf_counter() - t0
    tick.cancel()
    assert len(e.silences.silences) == 600 and e.silences.muted_by({"task": "new-7", "severity": "warning"}, NOW)
    assert lags and max(lags) < took / 2, (max(lags), took)
    await e.stop()


def test_reload_snapshot_superseded_by_a_load_in_between(tmp_path: Path) -> None:
    """A parse that finishes after an API edit reloaded the file changes nothing; an invalid snapshot keeps
    the last good silences and reports the error."""
    path = tmp_path / "silences.yml"
    path.write_text(_many(1, "a"))
    sf = SilenceFile(path)
    sf.load()
    path.write_text(_many(2, "b"))
    base, stamp, text = sf.snapshot()
    parsed = sf.parse_snapshot(text)
    path.write_text(_many(3, "c"))
    sf.load()  # what an API edit does meanwhile
    assert sf.install(base, stamp, parsed) is None and len(sf.index.silences) == 3
    path.write_text("silences:\n  - matchers: ['task=\"x\"']\n")  # no ends_at
    base, stamp, text = sf.snapshot()
    assert sf.install(base, stamp, sf.parse_snapshot(text)) is False
    assert sf.last_error is not None and "silences.yml:2" in sf.last_error.problems[0]
    assert len(sf.index.silences) == 3 and not sf.changed()
