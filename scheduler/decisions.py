"""Pure scheduling decisions: which slots run, which are missed, what an overlap does.

Nothing here reads the clock; the run loop passes ``now`` (UTC epoch seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scheduler.triggers import CronTrigger, EveryTrigger

Trigger = CronTrigger | EveryTrigger
Overlap = Literal["run", "skip", "replace"]
_COUNT_CAP = 10_000


@dataclass(frozen=True)
class SlotPlan:
    """What to do with the slots that came due.

    ``run`` is the slot to start (or ``None``); ``missed`` counts slots that will never run,
    between ``missed_first`` and ``missed_last``; ``next`` is the next slot to wait for.
    ``missed_exact`` is false when there were more than 10 000 missed cron slots (a lower bound).
    """

    run: float | None
    missed: int
    missed_first: float | None
    missed_last: float | None
    next: float | None
    late: bool = False
    missed_exact: bool = True


def _count(trigger: Trigger, first: float, upto: float) -> tuple[int, float | None, bool]:
    """Slots in ``[first, upto]`` (``first`` is a slot): count, the last one, exact?"""
    if first > upto:
        return 0, None, True
    if isinstance(trigger, EveryTrigger):
        n = 1 + trigger.count_between(first, upto)
        return n, trigger.prev_at_or_before(upto), True
    n, last = 0, None
    t: float | None = first
    while t is not None and t <= upto and n < _COUNT_CAP:
        n, last = n + 1, t
        t = trigger.next_after(t)
    if t is not None and t <= upto:
        return n, trigger.prev_at_or_before(upto), False
    return n, last, True


def _prev_slot(trigger: Trigger, slot: float) -> float | None:
    """The slot just before ``slot``."""
    if isinstance(trigger, EveryTrigger):
        return slot - trigger.period_ns / 1e9
    return trigger.prev_at_or_before(slot - 0.5)  # cron has whole-second resolution


def plan_slots(trigger: Trigger, due: float, now: float, grace: float, catch_up: str) -> SlotPlan:
    """Decide about slot ``due`` (≤ now) and every later slot up to ``now``.

    Only the latest due slot may run: it runs when it is at most ``grace`` late, or with
    ``catch_up == "latest"`` however late; every earlier due slot is missed (never two runs
    in a burst after a pause, a suspend or downtime).
    """
    after_due = trigger.next_after(due)
    if after_due is None or after_due > now:  # the common case: only this slot is due
        latest, older, older_first, older_last, exact = due, 0, None, None, True
    else:
        n, last, exact = _count(trigger, after_due, now)
        latest = last if last is not None else due
        older, older_first = n, due  # ``due`` plus the n later ones, minus ``latest``
        older_last = _prev_slot(trigger, latest) if n else None
    nxt = trigger.next_after(max(now, latest))
    if now - latest <= grace:
        return SlotPlan(latest, older, older_first, older_last, nxt, False, exact)
    if catch_up == "latest":
        return SlotPlan(latest, older, older_first, older_last, nxt, True, exact)
    return SlotPlan(None, older + 1, due, latest, nxt, False, exact)


def first_slot(trigger: Trigger, last_fired: float | None, now: float) -> float | None:
    """The first slot to wait for at start-up: after the last fired slot, or after ``now``."""
    if last_fired is None or last_fired >= now:
        return trigger.next_after(now if last_fired is None else max(last_fired, now))
    return trigger.next_after(last_fired)


def overlap(policy: str, running: int) -> Overlap:
    """What a new run does while ``running`` runs of the same task are still going."""
    if running <= 0 or policy == "allow":
        return "run"
    if policy == "replace":
        return "replace"
    return "skip"


def lock_ttl_ms(timeout: float | None) -> int:
    """A lock TTL longer than one attempt's timeout (60 s without one); renewed every third of it while running.

    Short enough that a slot whose owner died (kill -9) can be taken over within its misfire grace.
    """
    base = timeout if timeout is not None else 60.0
    return int(max(base + 2.0, 3.0) * 1000)
