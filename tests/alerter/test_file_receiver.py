"""The file receiver: one JSON file (webhook v4 payload) per notification, sortable names, atomic writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from alerter.model import Alert, BuildContext, Notification, Outcome
from alerter.receivers.file import FileConfig, file_name

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _notification(status: str = "firing") -> Notification:
    a = Alert(labels={"alertname": "TaskFailed", "task": "db_backup"}, annotations={"summary": "s"},
              starts_at=NOW - timedelta(minutes=5),
              ends_at=NOW - timedelta(minutes=1) if status == "resolved" else NOW + timedelta(minutes=4))
    return Notification(receiver="ops/mail", group_key='{}:{alertname="TaskFailed"}',
                        group_labels={"alertname": "TaskFailed"}, alerts=[a], status=status, now=NOW,
                        common_labels=dict(a.labels))


async def test_writes_v4_payload_per_notification(tmp_path: Path) -> None:
    """Each notification becomes one complete JSON file in the directory (relative to the config dir)."""
    integ = FileConfig(directory="outbox").build(BuildContext(http=None, clock=None, state_dir=tmp_path,
                                                              extra={"config_dir": tmp_path}))
    first = await integ.notify(_notification())
    second = await integ.notify(_notification("resolved"))
    assert first.outcome is Outcome.SENT and second.outcome is Outcome.SENT
    files = sorted((tmp_path / "outbox").iterdir())
    assert [f.suffix for f in files] == [".json", ".json"]  # no temp files left behind
    bodies = [orjson.loads(f.read_bytes()) for f in files]
    assert [b["status"] for b in bodies] == ["firing", "resolved"]  # names sort in delivery order
    b = bodies[0]
    assert b["version"] == "4" and b["receiver"] == "ops/mail" and b["groupKey"] == '{}:{alertname="TaskFailed"}'
    assert b["alerts"][0]["fingerprint"] == _notification().alerts[0].fingerprint
    assert b["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert bodies[1]["alerts"][0]["endsAt"] == "2026-11-23T01:59:00.000Z"


def test_names_sort_by_time_then_sequence() -> None:
    """File names are safe for any receiver name and sort by time, then by sequence."""
    a = file_name("ops/mail", NOW, 2)
    b = file_name("ops/mail", NOW, 10)
    c = file_name("a", NOW + timedelta(microseconds=1), 1)
    assert sorted([c, b, a]) == [a, b, c]
    assert "/" not in a


async def test_unwritable_directory_is_retry(tmp_path: Path) -> None:
    """A directory that cannot be written gives a RETRY result, not an exception."""
    (tmp_path / "blocked").write_text("a file, not a directory")
    integ = FileConfig(directory=str(tmp_path / "blocked" / "sub")).build(
        BuildContext(http=None, clock=None, state_dir=tmp_path))
    result = await integ.notify(_notification())
    assert result.outcome is Outcome.RETRY and "cannot write" in result.detail
