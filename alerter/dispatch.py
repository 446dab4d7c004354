"""Aggregation groups and their timers — pure decisions that take ``now``.

A group is (destination, group labels). Its first flush is ``group_wait`` after creation, or at
once when an alert that started more than ``group_wait`` ago joins before the first flush
(Alertmanager's rule); later flushes come every ``group_interval``. After a successful flush the
resolved alerts that did not change meanwhile leave the group; an empty group is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from alerter.model import Alert
from alerter.route import Destination


@dataclass(eq=False)
class Group:
    """One aggregation group."""

    key: str
    dest: Destination
    labels: dict[str, str]
    next_flush: datetime
    alerts: dict[str, Alert] = field(default_factory=dict)
    flushed: bool = False
    flushing: bool = False


def first_flush_at(now: datetime, dest: Destination) -> datetime:
    """When a new group flushes first."""
    return now + dest.opts.group_wait


def flush_after_insert(group: Group, alert: Alert, now: datetime) -> datetime:
    """The group's next flush after ``alert`` joined: at once if it is old and nothing was sent yet."""
    if not group.flushed and alert.starts_at is not None and alert.starts_at + group.dest.opts.group_wait < now:
        return min(group.next_flush, now)
    return group.next_flush


def next_flush_after_flush(group: Group, now: datetime) -> datetime:
    """The next flush once a flush started at ``now``."""
    return now + group.dest.opts.group_interval


def is_due(group: Group, now: datetime) -> bool:
    """Whether ``group`` should flush at ``now``."""
    return not group.flushing and bool(group.alerts) and group.next_flush <= now


def settle_after_flush(group: Group, sent: dict[str, Alert]) -> None:
    """Drop the resolved alerts that were notified and are unchanged since (``sent``: fp → alert)."""
    for fp, alert in sent.items():
        if group.alerts.get(fp) is alert:
            del group.alerts[fp]
