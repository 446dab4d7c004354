"""The HTTP API: Alertmanager v2 shapes, webhook ingest, token on mutations, body limits, status, reload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from engine_helpers import RunningAlerter, serve

CFG = """
route:
  receiver: out
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  routes:
    - {matchers: ['team="db"'], receiver: dba}
receivers:
  - {name: out, file_configs: [{directory: outbox}]}
  - {name: dba, webhook_configs: [{url: "http://127.0.0.1:9/hook?token=SECRET-TOKEN"}]}
silences_file: silences.yml
api: {token: "${ALERTER_TEST_TOKEN}", max_body_bytes: 2048}
delivery: {backoff_initial: 100ms, backoff_max: 200ms}
"""
AUTH = {"Authorization": "Bearer t0ken"}


@pytest.fixture
async def alerter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningAlerter]:
    """A served alerter requiring the bearer token ``t0ken`` on mutations."""
    monkeypatch.setenv("ALERTER_TEST_TOKEN", "t0ken")
    a = await serve(CFG, tmp_path, start_loop=False)
    yield a
    await a.stop()


def _alert(name: str, **labels: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return {"labels": {"alertname": name, **labels}, "annotations": {"summary": "s"},
            "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=4)).isoformat(),
            "generatorURL": "http://prometheus/graph"}


async def test_post_and_get_alerts(alerter: RunningAlerter) -> None:
    """Posted alerts come back in the v2 shape with fingerprint, receivers and state; filters apply."""
    async with httpx.AsyncClient(base_url=alerter.url) as c:
        r = await c.post("/api/v2/alerts", json=[_alert("A", task="x"), _alert("B", team="db")], headers=AUTH)
        assert r.status_code == 200
        got = (await c.get("/api/v2/alerts")).json()
        assert {a["labels"]["alertname"] for a in got} == {"A", "B"}
        b = next(a for a in got if a["labels"]["alertname"] == "B")
        assert b["receivers"] == [{"name": "dba"}] and b["status"]["state"] == "active"
        assert len(b["fingerprint"]) == 16
        only = (await c.get("/api/v2/alerts", params={"filter": 'team="db"'})).json()
        assert [a["labels"]["alertname"] for a in only] == ["B"]
        by_rcv = (await c.get("/api/v2/alerts", params={"receiver": "out"})).json()
        assert [a["labels"]["alertname"] for a in by_rcv] == ["A"]


async def test_alert_groups(alerter: RunningAlerter) -> None:
    """GET /api/v2/alerts/groups lists each group with its labels, receiver and alerts."""
    async with httpx.AsyncClient(base_url=alerter.url, headers=AUTH) as c:
        await c.post("/api/v2/alerts", json=[_alert("A", task="x"), _alert("A", task="y"), _alert("B", team="db")])
        groups = (await c.get("/api/v2/alerts/groups")).json()
        shape = sorted((g["labels"]["alertname"], g["receiver"]["name"], len(g["alerts"])) for g in groups)
        assert shape == [("A", "out", 2), ("B", "dba", 1)]


async def test_mutations_need_the_token(alerter: RunningAlerter) -> None:
    """POSTs and DELETEs without the bearer token are refused with 401; reads are open."""
    async with httpx.AsyncClient(base_url=alerter.url) as c:
        assert (await c.post("/api/v2/alerts", json=[_alert("A")])).status_code == 401
        assert (await c.post("/api/v2/alerts", json=[_alert("A")],
                             headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await c.post("/-/reload")).status_code == 401
        assert (await c.delete("/api/v2/silence/x")).status_code == 401
        assert (await c.get("/api/v2/alerts")).status_code == 200


async def test_bad_bodies_are_4xx_naming_the_problem(alerter: RunningAlerter) -> None:
    """Malformed JSON, wrong shapes, bad timestamps and oversized bodies get 4xx with the reason."""
    async with httpx.AsyncClient(base_url=alerter.url, headers=AUTH) as c:
        r = await c.post("/api/v2/alerts", content=b"[{", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "not valid JSON" in r.text
        r = await c.post("/api/v2/alerts", json=[{"labels": {}}])
        assert r.status_code == 400 and "alerts[0].labels: at least one label" in r.text
        r = await c.post("/api/v2/alerts", json=[{"labels": {"a": "b"}, "startsAt": "yesterday"}])
        assert r.status_code == 400 and "alerts[0].startsAt: invalid timestamp" in r.text
        r = await c.post("/api/v2/alerts", json=[{"labels": {"bad-name": "b"}}])
        assert r.status_code == 400 and "invalid label name" in r.text
        r = await c.post("/api/v2/alerts", json=[_alert("A", pad="x" * 4096)])
        assert r.status_code == 413
        r = await c.post("/api/v2/alerts", json={"labels": {"a": "b"}})
        assert r.status_code == 400 and "expected a JSON list" in r.text
        r = await c.post("/api/v2/alerts", json=[_alert("Good"), {"labels": {"x": 1}}])
        assert r.status_code == 400 and "1 of 2 alerts rejected" in r.text and "alerts[1].labels.x" in r.text
        assert [a["labels"]["alertname"] for a in (await c.get("/api/v2/alerts")).json()] == ["Good"]


async def test_webhook_ingest_firing_then_resolved(alerter: RunningAlerter) -> None:
    """An Alertmanager webhook payload feeds alerts; a resolved status ends them."""
    payload = {"version": "4", "status": "firing", "receiver": "cronwatch", "groupLabels": {},
               "alerts": [{"status": "firing", "labels": {"alertname": "Up", "task": "t"},
                           "annotations": {}, "startsAt": "2026-11-23T01:00:00.123456789Z",
                           "endsAt": "0001-01-01T00:00:00Z"}]}
    async with httpx.AsyncClient(base_url=alerter.url, headers=AUTH) as c:
        assert (await c.post("/webhook", json=payload)).json() == {"status": "success", "alerts": 1}
        got = (await c.get("/api/v2/alerts")).json()
        assert len(got) == 1
        ends = datetime.fromisoformat(got[0]["endsAt"].replace("Z", "+00:00"))
        assert ends - datetime.now(UTC) > timedelta(hours=24)  # stays open until upstream resolves it
        payload["alerts"][0]["status"] = "resolved"  # type: ignore[index]
        payload["alerts"][0]["endsAt"] = datetime.now(UTC).isoformat()  # type: ignore[index]
        await c.post("/webhook", json=payload)
        assert (await c.get("/api/v2/alerts")).json() == []
        bad = await c.post("/webhook", json={"version": "3", "alerts": []})
        assert bad.status_code == 400 and "version" in bad.text


async def test_silence_api_writes_the_file(alerter: RunningAlerter, tmp_path: Path) -> None:
    """POST /api/v2/silences writes the YAML file, mutes the alert, and DELETE expires it."""
    now = datetime.now(UTC)
    body = {"matchers": [{"name": "task", "value": "x", "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": "me", "comment": "testing"}
    async with httpx.AsyncClient(base_url=alerter.url, headers=AUTH) as c:
        await c.post("/api/v2/alerts", json=[_alert("A", task="x")])
        sid = (await c.post("/api/v2/silences", json=body)).json()["silenceID"]
        assert sid in (tmp_path / "silences.yml").read_text()
        got = (await c.get(f"/api/v2/silence/{sid}")).json()
        assert got["status"]["state"] == "active" and got["matchers"][0]["name"] == "task"
        alert = (await c.get("/api/v2/alerts")).json()[0]
        assert alert["status"] == {"state": "suppressed", "silencedBy": [sid], "inhibitedBy": []}
        assert (await c.get("/api/v2/alerts", params={"silenced": "false"})).json() == []
        assert (await c.delete(f"/api/v2/silence/{sid}")).status_code == 200
        assert (await c.get(f"/api/v2/silence/{sid}")).json()["status"]["state"] == "expired"
        everything = {**body, "matchers": [{"name": "task", "value": ".*", "isRegex": True}]}
        r = await c.post("/api/v2/silences", json=everything)
        assert r.status_code == 400 and "empty value" in r.text
        past = {**body, "endsAt": (now - timedelta(hours=1)).isoformat()}
        assert (await c.post("/api/v2/silences", json=past)).status_code == 400
        assert (await c.delete("/api/v2/silence/nope")).status_code == 404


async def test_status_receivers_and_health(alerter: RunningAlerter) -> None:
    """Status, receivers, health, readiness and metrics answer; the receiver status holds no secret."""
    async with httpx.AsyncClient(base_url=alerter.url, headers=AUTH) as c:
        assert (await c.get("/-/healthy")).text == "OK"
        assert (await c.get("/-/ready")).status_code == 200
        status = (await c.get("/api/v2/status")).json()
        assert status["cluster"]["status"] == "disabled" and "route:" in status["config"]["original"]
        assert (await c.get("/api/v2/receivers")).json() == [{"name": "out"}, {"name": "dba"}]
        rows = (await c.get("/api/cronwatch/v1/receivers")).json()
        assert [(r["receiver"], r["integration"], r["index"]) for r in rows] == [("out", "file", 0),
                                                                                ("dba", "webhook", 0)]
        await c.post("/api/v2/alerts", json=[_alert("B", team="db")])
        await alerter.engine.run_due()
        rows = (await c.get("/api/cronwatch/v1/receivers")).json()
        dba = rows[1]
        assert dba["last_outcome"] == "retry" and dba["last_success"] is None
        assert "SECRET" not in str(rows)
        metrics = (await c.get("/metrics")).text
        assert 'cronwatch_alerter_alerts_received_total{source="api"} 1.0' in metrics
        assert 'cronwatch_alerter_alerts{state="active"} 1.0' in metrics
        assert "cronwatch_alerter_config_last_reload_successful 1.0" in metrics


async def test_reload_bad_config_keeps_old(alerter: RunningAlerter, tmp_path: Path) -> None:
    """POST /-/reload with a broken file answers 400 with file:line and keeps the running config."""
    (tmp_path / "alerter.yml").write_text(CFG.replace("group_wait: 0s", "group_wait: soon"))
    async with httpx.AsyncClient(base_url=alerter.url, headers=AUTH) as c:
        r = await c.post("/-/reload")
        assert r.status_code == 400
        assert 'alerter.yml:5: route.group_wait: invalid duration "soon"' in r.json()["error"]
        assert "cronwatch_alerter_config_last_reload_successful 0.0" in (await c.get("/metrics")).text
        (tmp_path / "alerter.yml").write_text(CFG.replace("group_wait: 0s", "group_wait: 10s"))
        assert (await c.post("/-/reload")).status_code == 200
        assert alerter.engine.router.root.opts.group_wait == timedelta(seconds=10)


async def test_silence_edits_run_off_the_event_loop(alerter: RunningAlerter, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding, replacing and expiring a silence rewrites the YAML file on a worker thread (a round
    trip of a large file takes about a second), one edit at a time, with the same results."""
    import threading

    from alerter.silencefile import SilenceFile
    from alerter.silences import Silence

    seen: list[tuple[str, bool]] = []
    original_add, original_expire = SilenceFile.add, SilenceFile.expire

    def add(self: SilenceFile, silence: Silence) -> str:
        seen.append(("add", threading.current_thread() is threading.main_thread()))
        return original_add(self, silence)

    def expire(self: SilenceFile, sid: str, now: datetime) -> None:
        seen.append(("expire", threading.current_thread() is threading.main_thread()))
        original_expire(self, sid, now)

    monkeypatch.setattr(SilenceFile, "add", add)
    monkeypatch.setattr(SilenceFile, "expire", expire)
    now = datetime.now(UTC)
    body = {"matchers": [{"name": "task", "value": "x", "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": "me", "comment": "first"}
    async with httpx.AsyncClient(base_url=alerter.url, headers=AUTH) as c:
        sids = [(await c.post("/api/v2/silences", json={**body, "comment": f"n{i}"})).json()["silenceID"]
                for i in range(2)]
        replaced = (await c.post("/api/v2/silences", json={**body, "id": sids[0], "comment": "new"})).json()
        assert (await c.delete(f"/api/v2/silence/{sids[1]}")).status_code == 200
        assert (await c.post("/api/v2/silences", json={**body, "id": "nope"})).status_code == 404
        states = {s["id"]: (s["status"]["state"], s["comment"]) for s in (await c.get("/api/v2/silences")).json()}
    assert states[sids[0]] == ("expired", "n0") and states[sids[1]] == ("expired", "n1")
    assert states[replaced["silenceID"]] == ("active", "new")
    assert seen == [("add", False), ("add", False), ("expire", False), ("add", False), ("expire", False)]
    text = (tmp_path / "silences.yml").read_text()
    assert text.count("comment:") == 3
