"""The whole loop, headless: scheduler → shipper → store, Prometheus → alerter → outbox, silences."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from cronwatch.demo import INDEX_PREFIX, DemoStack

HERE = Path(__file__).resolve().parent
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 0.5) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def all_notifications(outbox: Path) -> list[dict[str, Any]]:
    """The webhook payloads in the outbox in delivery order (rendered dry runs excluded)."""
    return [json.loads(p.read_text()) for p in sorted(outbox.glob("*.json")) if ".dry-run." not in p.name]


def notifications(outbox: Path, task: str, alertname: str = "CronwatchTaskFailed") -> list[dict[str, Any]]:
    """The notifications of the group (alertname, task)."""
    return [n for n in all_notifications(outbox)
            if n["groupLabels"].get("task") == task and n["groupLabels"].get("alertname") == alertname]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    """The demo stack on the e2e tasks, with e2e_breaks failing from the start."""
    work = tmp_path_factory.mktemp("e2e")
    (work / "e2e_breaks.fail").touch()
    mp = pytest.MonkeyPatch()
    mp.setenv("E2E_DIR", str(work))
    mp.setenv("PYTHON", sys.executable)
    s = DemoStack(work / "demo", HERE / "tasks.yml")
    try:
        s.start(echo=lambda _m: None)
        yield s
    finally:
        s.stop()
        mp.undo()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """An HTTP client for the services' APIs."""
    with httpx.Client(timeout=5.0) as c:
        yield c


def test_failed_run_is_searchable_by_trace_id(stack: DemoStack, client: httpx.Client) -> None:
    """A failing task's task.failed record, with its stack trace, is in the daily index of its own day."""
    store = stack.urls["store"]

    def failed_record() -> dict[str, Any] | None:
        r = client.post(f"{store}/{INDEX_PREFIX}-*/_search", json={
            "query": {"bool": {"filter": [{"term": {"task.name": "e2e_breaks"}},
                                          {"term": {"event.action": "task.failed"}}]}}, "size": 1})
        hits = r.json().get("hits", {}).get("hits", []) if r.status_code == 200 else []
        return hits[0] if hits else None

    hit = wait_for("a task.failed record of e2e_breaks in the store", failed_record, 60)
    doc = hit["_source"]
    day = datetime.fromisoformat(doc["@timestamp"].replace("Z", "+00:00")).astimezone(UTC)
    assert hit["_index"] == f"{INDEX_PREFIX}-{day:%Y.%m.%d}"
    assert "ConnectionError: database is unreachable" in doc["error.stack_trace"]
    trace = doc["trace.id"]
    assert len(trace) == 32

    # the same trace id finds the task's own log lines too (what `cronwatch logs --trace` shows)
    from cronwatch.logs import build_query, search

    with httpx.Client(base_url=store, timeout=5.0) as es:
        lines = search(es, INDEX_PREFIX, build_query(trace=trace, limit=100))
    messages = " | ".join(str(h.get("message")) for h in lines)
    assert "starting e2e_breaks" in messages
    assert all(h["trace.id"] == trace for h in lines)


def test_failure_alert_fires_and_notifies_once(stack: DemoStack, client: httpx.Client) -> None:
    """Prometheus fires CronwatchTaskFailed for the failing task and the outbox gets one notification."""
    prom = stack.urls["prometheus"]

    def firing() -> list[Any]:
        r = client.get(f"{prom}/api/v1/query",
                       params={"query": 'ALERTS{alertname="CronwatchTaskFailed",task="e2e_breaks",alertstate="firing"}'})
        return r.json()["data"]["result"]

    wait_for("CronwatchTaskFailed firing in Prometheus", firing, 90)
    sent = wait_for("a firing notification for e2e_breaks", lambda: notifications(stack.outbox, "e2e_breaks"), 60)
    assert sent[0]["status"] == "firing"
    assert sent[0]["commonLabels"]["alertname"] == "CronwatchTaskFailed"
    # the rendered DingTalk/WeCom/mail previews are there too
    def previews() -> bool:
        kinds = {p.name.split(".")[-3] for p in stack.outbox.glob("*.dry-run.json")}
        return {"dingtalk", "wecom", "email"} <= kinds

    wait_for("the DingTalk, WeCom and mail previews in the outbox", previews, 20)
    preview = json.loads(next(stack.outbox.glob("*.dingtalk.dry-run.json")).read_text())
    body = json.loads(preview["messages"][0]["body"])
    assert "e2e_breaks" in json.dumps(body, ensure_ascii=False)
    assert "access_token=demo" not in preview["messages"][0]["target"]  # the robot key is never written out


def test_silence_in_yaml_mutes_next_alert(stack: DemoStack, client: httpx.Client) -> None:
    """A silence written into silences.yml while running mutes the alert of a task that then fails."""
    alerter = stack.urls["alerter"]
    now = datetime.now(UTC)
    stack.silences.write_text(
        "# added by the e2e test while the pipeline runs\n"
        "silences:\n"
        "  - id: e2e-mute\n"
        "    matchers: ['task=\"e2e_muted\"']\n"
        f"    starts_at: {(now - timedelta(minutes=1)).isoformat()}\n"
        f"    ends_at: {(now + timedelta(hours=1)).isoformat()}\n"
        "    created_by: e2e\n"
        "    comment: muted by the end-to-end test\n")

    def loaded() -> bool:
        sil = client.get(f"{alerter}/api/v2/silences").json()
        return any(s.get("comment") == "muted by the end-to-end test" and s["status"]["state"] == "active"
                   for s in sil)

    wait_for("the alerter to load the new silence", loaded, 30)
    (Path(stack.state).parent / "e2e_muted.fail").touch()

    def suppressed() -> list[Any]:
        alerts = client.get(f"{alerter}/api/v2/alerts").json()
        return [a for a in alerts if a["labels"].get("task") == "e2e_muted"
                and a["labels"].get("alertname") == "CronwatchTaskFailed"
                and a["status"]["state"] == "suppressed" and a["status"]["silencedBy"]]

    wait_for("the e2e_muted alert to reach the alerter, silenced", suppressed, 90)
    time.sleep(6)  # longer than group_wait: a notification would have been written by now
    assert notifications(stack.outbox, "e2e_muted") == []


def test_resolved_is_sent_once(stack: DemoStack) -> None:
    """When the failing task recovers, exactly one resolved notification follows the one firing one."""
    (Path(stack.state).parent / "e2e_breaks.fail").unlink()

    def resolved() -> list[dict[str, Any]]:
        return [n for n in notifications(stack.outbox, "e2e_breaks") if n["status"] == "resolved"]

    wait_for("a resolved notification for e2e_breaks", resolved, 90)
    time.sleep(15)  # more than group_interval: a repeated resolved message would have come
    sent = notifications(stack.outbox, "e2e_breaks")
    assert [n["status"] for n in sent] == ["firing", "resolved"]
    # and no group anywhere in the run was told the same thing twice
    by_group: dict[str, list[str]] = {}
    for n in all_notifications(stack.outbox):
        by_group.setdefault(n["groupKey"], []).append(n["status"])
    assert by_group and all(v in (["firing"], ["firing", "resolved"]) for v in by_group.values()), by_group
