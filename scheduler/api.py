"""The HTTP API (aiohttp, JSON) and ``/metrics`` + ``/healthz`` on the same listen address.

Mutating endpoints need ``Authorization: Bearer <token>`` when a token is configured; bodies are
size-limited; bad input → 400 naming the field, unknown task → 404, duplicate → 409.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cronwatch.errors import ConfigError
from cronwatch.httpapi import json_error, json_response, read_json, token_middleware
from cronwatch.jsonlog import format_ts, is_secret_key
from cronwatch.metrics import metrics_handler
from scheduler.engine import Scheduler
from scheduler.entries import TaskEntry
from scheduler.errors import SchedulerError, TaskExists, TaskNotFound, TaskReadOnly
from scheduler.model import parse_task

MAX_BODY = 256 * 1024
SCHED: web.AppKey[Scheduler] = web.AppKey("scheduler", Scheduler)


def _ts(value: float | None) -> str | None:
    return format_ts(value) if value else None


def task_view(entry: TaskEntry) -> dict[str, Any]:
    """What the API shows of a task (values of secret-looking ``env`` keys are redacted)."""
    spec = entry.spec.model_dump(mode="json", exclude_none=True)
    if spec.get("env"):
        spec["env"] = {k: "[REDACTED]" if is_secret_key(k) else v for k, v in spec["env"].items()}
    return {
        "name": entry.name,
        "source": entry.source,
        "paused": entry.paused,
        "enabled": entry.spec.enabled,
        "next_run": _ts(entry.next_fire),
        "last_slot": _ts(entry.last_slot),
        "running": sorted(entry.live),
        "spec": spec,
    }


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except TaskNotFound as exc:
        return json_error(404, str(exc))
    except (TaskExists, TaskReadOnly) as exc:
        return json_error(409, str(exc))
    except ConfigError as exc:
        return json_response({"error": "; ".join(exc.problems), "problems": exc.problems, "code": 400}, 400)
    except SchedulerError as exc:
        return json_error(500, str(exc))
    except web.HTTPException as exc:
        if exc.status >= 400:
            return json_error(exc.status, exc.text or exc.reason)
        raise


def _sched(request: web.Request) -> Scheduler:
    return request.app[SCHED]


async def list_tasks(request: web.Request) -> web.Response:
    """``GET /tasks``."""
    return json_response([task_view(e) for e in sorted(_sched(request).tasks.values(), key=lambda e: e.name)])


async def create_task(request: web.Request) -> web.Response:
    """``POST /tasks``: add a task (persisted in the state)."""
    spec = parse_task(await read_json(request, MAX_BODY))
    entry = _sched(request).add(spec, "api", persist=True)
    return json_response(task_view(entry), 201)


async def get_task(request: web.Request) -> web.Response:
    """``GET /tasks/{name}``."""
    return json_response(task_view(_sched(request).get(request.match_info["name"])))


async def put_task(request: web.Request) -> web.Response:
    """``PUT /tasks/{name}``: replace an API task, or create it."""
    name = request.match_info["name"]
    body = await read_json(request, MAX_BODY)
    if isinstance(body, dict):
        if body.setdefault("name", name) != name:
            raise ConfigError(f'body: name: "{body["name"]}" does not match the URL\'s task name "{name}"')
    spec = parse_task(body)
    sched = _sched(request)
    if name in sched.tasks:
        return json_response(task_view(sched.update(spec, persist=True)))
    return json_response(task_view(sched.add(spec, "api", persist=True)), 201)


async def delete_task(request: web.Request) -> web.Response:
    """``DELETE /tasks/{name}``."""
    _sched(request).remove(request.match_info["name"], persist=True)
    return web.Response(status=204)


async def run_task(request: web.Request) -> web.Response:
    """``POST /tasks/{name}/run``: start a run now."""
    ctx = _sched(request).run_now(request.match_info["name"])
    return json_response({"task": ctx.task, "run_id": ctx.run_id, "trace_id": ctx.trace_id}, 202)


async def pause_task(request: web.Request) -> web.Response:
    """``POST /tasks/{name}/pause``."""
    return json_response(task_view(_sched(request).pause(request.match_info["name"])))


async def resume_task(request: web.Request) -> web.Response:
    """``POST /tasks/{name}/resume``."""
    return json_response(task_view(_sched(request).resume(request.match_info["name"])))


async def task_runs(request: web.Request) -> web.Response:
    """``GET /tasks/{name}/runs?limit=N``: running runs first, then history, newest first."""
    sched = _sched(request)
    name = request.match_info["name"]
    entry = sched.get(name)
    try:
        limit = max(1, min(int(request.query.get("limit", "100")), 1000))
    except ValueError:
        raise ConfigError("query: limit: must be an integer") from None
    out: list[dict[str, Any]] = [
        {"run_id": c.run_id, "trace_id": c.trace_id, "scheduled_at": _ts(c.scheduled_at), "outcome": "running",
         "attempts": c.attempt} for c in entry.live.values()
    ]
    if sched.state is not None:
        sched.state.flush()
        for r in sched.state.runs(name, limit):
            out.append({"run_id": r.run_id, "trace_id": r.trace_id, "scheduled_at": _ts(r.scheduled_at),
                        "started_at": _ts(r.started_at), "ended_at": _ts(r.ended_at), "outcome": r.outcome,
                        "attempts": r.attempts, "trigger": r.trigger, "error_type": r.error_type,
                        "error_message": r.error_message, "exit_code": r.exit_code,
                        "duration_s": round(r.ended_at - r.started_at, 6) if r.ended_at else None})
    return json_response(out[:limit])


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: 200 while the loop ticks (at least every 30 s), else 503."""
    sched = _sched(request)
    now = sched.clock.time()
    lag = None if sched.last_tick is None else now - sched.last_tick
    ok = lag is not None and lag < 90
    body = {"status": "ok" if ok else "stalled", "tasks": len(sched.tasks),
            "running": sum(len(e.live) for e in sched.tasks.values()), "last_tick_age_s": lag}
    return json_response(body, 200 if ok else 503)


def build_app(sched: Scheduler, token: str | None = None) -> web.Application:
    """The aiohttp application of a scheduler."""
    app = web.Application(middlewares=[token_middleware(token), _errors], client_max_size=MAX_BODY)
    app[SCHED] = sched
    app.router.add_get("/tasks", list_tasks)
    app.router.add_post("/tasks", create_task)
    app.router.add_get("/tasks/{name}", get_task)
    app.router.add_put("/tasks/{name}", put_task)
    app.router.add_delete("/tasks/{name}", delete_task)
    app.router.add_post("/tasks/{name}/run", run_task)
    app.router.add_post("/tasks/{name}/pause", pause_task)
    app.router.add_post("/tasks/{name}/resume", resume_task)
    app.router.add_get("/tasks/{name}/runs", task_runs)
    app.router.add_get("/metrics", metrics_handler(sched.metrics.registry))
    app.router.add_get("/healthz", healthz)
    return app
