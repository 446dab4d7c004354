"""The HTTP API: CRUD of tasks, run now, pause/resume, history, token, errors, /metrics, /healthz."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sched_helpers import Harness, eventually

from cronwatch.clock import SystemClock
from scheduler.api import build_app

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEW = {"name": "added", "schedule": "@every 1h", "command": ["true"], "labels": {"team": "api"},
       "env": {"DB_PASSWORD": "hunter2", "MODE": "fast"}}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[TestClient, Harness]]:  # type: ignore[type-arg]
    """A real aiohttp server in front of a scheduler on the system clock, with a bearer token."""
    h = Harness(tmp_path, clock=SystemClock())
    h.add(name="from-config", schedule="@every 1h", command=["true"])
    await h.start()
    client = TestClient(TestServer(build_app(h.sched, TOKEN)))
    await client.start_server()
    yield client, h
    await client.close()
    await h.stop()


async def test_metrics_before_any_run_lists_every_family_with_help(tmp_path: Path) -> None:
    """``/metrics`` shows all scheduler families with HELP even with no task and no run."""
    h = Harness(tmp_path, clock=SystemClock(), state=False)
    await h.start()
    async with TestClient(TestServer(build_app(h.sched))) as client:
        body = await (await client.get("/metrics")).text()
    await h.stop()
    for name in ("cronwatch_task_runs_total", "cronwatch_task_run_duration_seconds",
                 "cronwatch_task_last_success_timestamp_seconds", "cronwatch_task_last_run_timestamp_seconds",
                 "cronwatch_task_next_run_timestamp_seconds", "cronwatch_task_running", "cronwatch_task_retries_total",
                 "cronwatch_task_missed_total", "cronwatch_task_lateness_seconds"):
        assert f"# HELP {name} " in body, name
    assert 'job="' not in body


async def test_mutations_need_the_token_reads_do_not(api: tuple[TestClient, Harness]) -> None:  # type: ignore[type-arg]
    """POST without the bearer token is 401 and does not echo the token; GET works without it."""
    client, _h = api
    resp = await client.post("/tasks", json=NEW)
    assert resp.status == 401 and TOKEN not in await resp.text()
    resp = await client.post("/tasks", json=NEW, headers={"Authorization": "Bearer wrong"})
    assert resp.status == 401
    assert (await client.get("/tasks")).status == 200


async def test_create_get_update_delete(api: tuple[TestClient, Harness]) -> None:  # type: ignore[type-arg]
    """A task can be added (201), read, replaced with PUT and deleted (204); it is persisted meanwhile."""
    client, h = api
    resp = await client.post("/tasks", json=NEW, headers=AUTH)
    assert resp.status == 201
    view = await resp.json()
    assert view["source"] == "api" and view["spec"]["labels"] == {"team": "api"}
    assert view["spec"]["env"] == {"DB_PASSWORD": "[REDACTED]", "MODE": "fast"}
    assert "hunter2" not in await (await client.get("/tasks")).text()
    assert (await client.get("/tasks/added")).status == 200
    resp = await client.put("/tasks/added", json={"schedule": "@every 2h", "command": ["true"]}, headers=AUTH)
    assert resp.status == 200 and (await resp.json())["spec"]["schedule"] == "@every 2h"
    assert h.state is not None
    h.state.flush()
    assert h.state.api_tasks()["added"]["schedule"] == "@every 2h"
    assert (await client.delete("/tasks/added", headers=AUTH)).status == 204
    assert (await client.get("/tasks/added")).status == 404
    h.state.flush()
    assert "added" not in h.state.api_tasks()


async def test_duplicate_is_409_and_config_tasks_are_read_only(api: tuple[TestClient, Harness]) -> None:  # type: ignore[type-arg]
    """A duplicate name is 409; PUT/DELETE of a task from the config file is 409 too."""
    client, _h = api
    assert (await client.post("/tasks", json=NEW, headers=AUTH)).status == 201
    resp = await client.post("/tasks", json=NEW, headers=AUTH)
    assert resp.status == 409 and "already exists" in (await resp.json())["error"]
    resp = await client.delete("/tasks/from-config", headers=AUTH)
    assert resp.status == 409 and "config file" in (await resp.json())["error"]


async def test_bad_input_names_the_field(api: tuple[TestClient, Harness]) -> None:  # type: ignore[type-arg]
    """Invalid bodies are 400 with a message naming the field; malformed JSON and huge bodies are rejected."""
    client, _h = api
    resp = await client.post("/tasks", json={**NEW, "schedule": "0 0 * * 9"}, headers=AUTH)
    body = await resp.json()
    assert resp.status == 400 and body["problems"][0].startswith("body: schedule:") and "day-of-week" in body["error"]
    resp = await client.post("/tasks", json={**NEW, "timeout": "soon"}, headers=AUTH)
    assert resp.status == 400 and "body: timeout" in (await resp.json())["error"]
    resp = await client.post("/tasks", data=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status == 400
    resp = await client.post("/tasks", data=b"x" * (300 * 1024), headers=AUTH)
    assert resp.status == 413
    resp = await client.put("/tasks/a", json={**NEW, "name": "b"}, headers=AUTH)
    assert resp.status == 400 and "does not match" in (await resp.json())["error"]


async def test_run_now_pause_resume_and_history(api: tuple[TestClient, Harness]) -> None:  # type: ignore[type-arg]
    """POST /run starts a run (202) that shows in /runs; pause/resume toggle the paused flag."""
    client, h = api
    resp = await client.post("/tasks/from-config/run", headers=AUTH)
    assert resp.status == 202
    run = await resp.json()
    await eventually(lambda: bool(h.records("task.succeeded", "from-config")))
    runs = await (await client.get("/tasks/from-config/runs")).json()
    assert runs[0]["run_id"] == run["run_id"] and runs[0]["outcome"] == "success"
    assert runs[0]["trace_id"] == run["trace_id"] and runs[0]["trigger"] == "manual"
    view = await (await client.post("/tasks/from-config/pause", headers=AUTH)).json()
    assert view["paused"] is True and view["next_run"] is None
    view = await (await client.post("/tasks/from-config/resume", headers=AUTH)).json()
    assert view["paused"] is False
    assert (await client.post("/tasks/nope/run", headers=AUTH)).status == 404


async def test_healthz(api: tuple[TestClient, Harness]) -> None:  # type: ignore[type-arg]
    """/healthz is 200 while the loop ticks and reports the task count."""
    client, _h = api
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ok" and body["tasks"] == 1


async def test_api_tasks_survive_a_restart(tmp_path: Path) -> None:
    """A task added through the API is stored in the state and comes back after a restart."""
    first = Harness(tmp_path, clock=SystemClock())
    await first.start()
    async with TestClient(TestServer(build_app(first.sched))) as client:
        assert (await client.post("/tasks", json=NEW)).status == 201
        assert (await client.post("/tasks/added/pause")).status == 200
    await first.stop()
    second = Harness(tmp_path, clock=SystemClock())
    await second.start()
    entry = second.sched.get("added")
    assert entry.source == "api" and entry.paused and entry.spec.env["DB_PASSWORD"] == "hunter2"
    await second.stop()
