"""Pure decisions: which due slots run or are missed, start-up slots, overlap policies."""

from __future__ import annotations

import pytest

from scheduler.decisions import first_slot, lock_ttl_ms, overlap, plan_slots
from scheduler.triggers import parse_schedule

T0 = 1_800_000_000.0  # a multiple of 5 s and 60 s


def test_on_time_slot_runs_and_next_is_the_following_slot() -> None:
    """A slot reached on time runs; nothing is missed; the next slot is one period later."""
    plan = plan_slots(parse_schedule("@every 5s"), T0, T0 + 0.002, grace=300, catch_up="none")
    assert (plan.run, plan.missed, plan.next) == (T0, 0, T0 + 5)


def test_a_burst_of_due_slots_runs_only_the_latest() -> None:
    """After a 12 s stall only the latest @every 5s slot runs; the two before it are missed."""
    plan = plan_slots(parse_schedule("@every 5s"), T0, T0 + 12, grace=300, catch_up="none")
    assert plan.run == T0 + 10
    assert (plan.missed, plan.missed_first, plan.missed_last) == (2, T0, T0 + 5)
    assert plan.next == T0 + 15


def test_slot_later_than_grace_is_missed_without_catch_up() -> None:
    """A daily slot 2 h late with a 5 min grace is missed (logged), not run."""
    trig = parse_schedule("0 2 * * *")
    slot = trig.next_after(T0)
    assert slot is not None
    plan = plan_slots(trig, slot, slot + 7200, grace=300, catch_up="none")
    assert plan.run is None and plan.missed == 1 and plan.missed_first == slot
    assert plan.next == slot + 86400


def test_catch_up_latest_runs_the_latest_missed_slot_once() -> None:
    """With ``catch_up: latest`` three days of downtime run the latest daily slot once, two are missed."""
    trig = parse_schedule("0 2 * * *")
    slot = trig.next_after(T0)
    assert slot is not None
    plan = plan_slots(trig, slot, slot + 2 * 86400 + 3600, grace=300, catch_up="latest")
    assert plan.run == slot + 2 * 86400 and plan.late
    assert plan.missed == 2 and plan.missed_last == slot + 86400


def test_huge_cron_backlog_is_counted_as_a_lower_bound_without_iterating_forever() -> None:
    """A per-second cron missed for a week is reported as at least 10 000 slots, quickly."""
    trig = parse_schedule("* * * * * *")
    plan = plan_slots(trig, T0, T0 + 7 * 86400, grace=300, catch_up="none")
    assert plan.run == T0 + 7 * 86400 and not plan.missed_exact and plan.missed >= 10_000


def test_every_backlog_count_is_exact_in_closed_form() -> None:
    """An @every backlog of a day is counted exactly."""
    plan = plan_slots(parse_schedule("@every 1s"), T0, T0 + 86400, grace=0.5, catch_up="none")
    assert plan.run == T0 + 86400 and plan.missed == 86400 and plan.missed_exact


def test_first_slot_without_state_starts_after_now() -> None:
    """With no remembered slot the first slot is the next one after now (nothing is 'missed')."""
    assert first_slot(parse_schedule("@every 5s"), None, T0 + 1) == T0 + 5


def test_first_slot_after_restart_resumes_after_the_last_fired_slot() -> None:
    """After a restart the first slot follows the last fired one, so missed slots come due at once."""
    assert first_slot(parse_schedule("@every 5s"), T0, T0 + 30) == T0 + 5


@pytest.mark.parametrize(("policy", "running", "expected"), [
    ("forbid", 0, "run"), ("forbid", 1, "skip"), ("allow", 3, "run"), ("replace", 1, "replace"),
    ("replace", 0, "run"),
])
def test_overlap_policies(policy: str, running: int, expected: str) -> None:
    """forbid skips, allow runs, replace replaces — only while a previous run is going."""
    assert overlap(policy, running) == expected


def test_lock_ttl_is_at_least_the_timeout() -> None:
    """The lock TTL covers the task's timeout (and has a floor)."""
    assert lock_ttl_ms(120) > 120_000
    assert lock_ttl_ms(None) > 60_000
    assert lock_ttl_ms(0.1) >= 3_000
