"""The HTTP API: Alertmanager's v2 shapes (enough for Prometheus and amtool) plus cronwatch's own.

- ``POST /api/v2/alerts`` (Prometheus), ``POST /webhook`` (an Alertmanager in front of us),
  ``GET /api/v2/alerts`` with ``filter``/``receiver``/``active``/``silenced``/``inhibited``,
  ``GET /api/v2/alerts/groups``;
- ``GET|POST /api/v2/silences``, ``GET|DELETE /api/v2/silence/{id}`` — written into the YAML file;
- ``GET /api/v2/status``, ``GET /api/v2/receivers``, ``/-/healthy``, ``/-/ready``,
  ``POST /-/reload``, ``/metrics``;
- ``GET /api/cronwatch/v1/receivers`` — each integration's last result (never a secret).

Mutating endpoints need the bearer token when ``api.token`` is set; bodies are size-limited.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from alerter.config import AlerterConfig
from alerter.engine import Engine
from alerter.errors import AlertInputError, MatcherError, SilenceError, SilenceNotFound
from alerter.ingest import alerts_from_webhook, parse_ts, split_api_alerts
from alerter.matchers import Matcher, matches_all, parse_matchers
from alerter.model import Alert
from alerter.payload import rfc3339
from alerter.silences import Silence
from cronwatch import __version__
from cronwatch.config import read_secret, validation_problems
from cronwatch.errors import ConfigError
from cronwatch.httpapi import json_error, json_response, read_json, token_middleware
from cronwatch.metrics import metrics_handler

ENGINE: web.AppKey[Engine] = web.AppKey("engine", Engine)
RELOAD: web.AppKey[Callable[[], AlerterConfig]] = web.AppKey("reload")
MAX_BODY: web.AppKey[int] = web.AppKey("max_body", int)


def _bool(request: web.Request, name: str, default: bool = True) -> bool:
    v = request.query.get(name)
    if v is None:
        return default
    if v.lower() in ("true", "1", "yes"):
        return True
    if v.lower() in ("false", "0", "no"):
        return False
    raise web.HTTPBadRequest(text=f"query parameter {name}: expected true or false, got {v!r}")


def _filters(request: web.Request) -> list[Matcher]:
    out: list[Matcher] = []
    for text in request.query.getall("filter", []):
        try:
            out += parse_matchers(text)
        except MatcherError as exc:
            raise web.HTTPBadRequest(text=f"filter: {exc}") from None
    return out


async def post_alerts(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    body = await read_json(request, request.app[MAX_BODY])
    try:
        alerts, problems = split_api_alerts(body, engine.clock.now(), engine.resolve_timeout)
    except AlertInputError as exc:
        return json_error(400, str(exc))
    engine.ingest(alerts, "api")  # the valid ones are kept even when others are rejected
    if problems:
        engine.metrics.invalid.labels("api").inc(len(problems))
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        return json_error(400, f"{len(problems)} of {len(body)} alerts rejected (the others were accepted): "
                          + "; ".join(shown))
    return web.Response(status=200)


async def post_webhook(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    body = await read_json(request, request.app[MAX_BODY])
    try:
        alerts = alerts_from_webhook(body, engine.clock.now(), engine.cfg.sources.webhook_resolve_timeout)
    except AlertInputError as exc:
        engine.metrics.invalid.labels("webhook").inc()
        return json_error(400, str(exc))
    engine.ingest(alerts, "webhook")
    return json_response({"status": "success", "alerts": len(alerts)})


async def get_alerts(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    want_active, want_silenced = _bool(request, "active"), _bool(request, "silenced")
    want_inhibited = _bool(request, "inhibited")
    _bool(request, "unprocessed")
    filters = _filters(request)
    rx = request.query.get("receiver")
    try:
        receiver_re = re.compile(f"^(?:{rx})$") if rx else None
    except re.error as exc:
        return json_error(400, f"receiver: invalid regular expression: {exc}")
    now = engine.clock.now()
    out: list[dict[str, Any]] = []
    for a in engine.store:
        if a.resolved_at(now) or not matches_all(filters, a.labels):
            continue
        receivers = engine.router.receivers_for(a.labels)
        if receiver_re is not None and not any(receiver_re.match(r) for r in receivers):
            continue
        silenced, inhibited = engine.muted_by(a, now)
        if (silenced and not want_silenced) or (inhibited and not want_inhibited) or \
                (not silenced and not inhibited and not want_active):
            continue
        out.append(alert_json(a, receivers, silenced, inhibited))
    out.sort(key=lambda x: str(x["fingerprint"]))
    return json_response(out)


def alert_json(a: Alert, receivers: list[str], silenced: list[str], inhibited: list[str]) -> dict[str, Any]:
    """Alertmanager's gettableAlert shape."""
    return {
        "labels": a.labels, "annotations": a.annotations, "startsAt": rfc3339(a.starts_at),
        "endsAt": rfc3339(a.ends_at), "updatedAt": rfc3339(a.updated_at), "generatorURL": a.generator_url,
        "fingerprint": a.fingerprint, "receivers": [{"name": r} for r in receivers],
        "status": {"state": "suppressed" if silenced or inhibited else "active",
                   "silencedBy": silenced, "inhibitedBy": inhibited},
    }


async def get_groups(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    filters = _filters(request)
    now = engine.clock.now()
    out = []
    for g in list(engine.groups.values()):
        alerts = [a for a in g.alerts.values() if not a.resolved_at(now) and matches_all(filters, a.labels)]
        if not alerts:
            continue
        for receiver in g.dest.opts.receivers:
            shown = []
            for a in alerts:
                silenced, inhibited = engine.muted_by(a, now)
                shown.append(alert_json(a, [receiver], silenced, inhibited))
            out.append({"labels": g.labels, "receiver": {"name": receiver}, "alerts": shown})
    return json_response(out)


def silence_json(s: Silence, now: datetime, updated: datetime) -> dict[str, Any]:
    """Alertmanager's gettableSilence shape."""
    start, end = s.shown_window(now)
    return {"id": s.uid, "status": {"state": s.state(now)}, "updatedAt": rfc3339(updated),
            "matchers": [m.to_api() for m in s.parsed], "startsAt": rfc3339(start), "endsAt": rfc3339(end),
            "createdBy": s.created_by, "comment": s.comment}


def _updated(engine: Engine) -> datetime:
    sf = engine.silence_file
    try:
        assert sf is not None
        return datetime.fromtimestamp(sf.path.stat().st_mtime, UTC)
    except (OSError, AssertionError):
        return engine.started_at


async def get_silences(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    await engine.reload_silences_off_loop()
    filters = _filters(request)
    now, updated = engine.clock.now(), _updated(engine)
    out = []
    for s in engine.silences.silences:
        if filters and not all(any(f.name == m.name and f.value == m.value and f.type is m.type
                                   for m in s.parsed) for f in filters):
            continue
        out.append(silence_json(s, now, updated))
    return json_response(out)


async def get_silence(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    s = engine.silences.by_id.get(request.match_info["id"])
    if s is None:
        return json_error(404, f"silence {request.match_info['id']!r} not found")
    return json_response(silence_json(s, engine.clock.now(), _updated(engine)))


def silence_from_api(body: Any, now: datetime) -> Silence:
    """Validate a postableSilence; errors name the field."""
    if not isinstance(body, dict):
        raise SilenceError("body: expected a JSON object")
    try:
        raw = body.get("matchers")
        if not isinstance(raw, list) or not raw:
            raise SilenceError("matchers: at least one matcher is required")
        matchers = [str(Matcher.from_api(m)) for m in raw]
        starts = parse_ts(body.get("startsAt"), "startsAt")
        ends = parse_ts(body.get("endsAt"), "endsAt")
    except (MatcherError, AlertInputError) as exc:
        raise SilenceError(str(exc)) from None
    if ends is None:
        raise SilenceError("endsAt: required")
    if ends <= now:
        raise SilenceError("endsAt: the end time must be in the future")
    if starts is None or starts < now:
        starts = now
    try:
        return Silence(matchers=matchers, starts_at=starts, ends_at=ends,
                       created_by=str(body.get("createdBy") or ""), comment=str(body.get("comment") or ""))
    except ValidationError as exc:
        raise SilenceError("; ".join(p.split(": ", 2)[-1] for p in validation_problems(exc, None, "silence"))) \
            from None


async def post_silence(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    body = await read_json(request, request.app[MAX_BODY])
    sf = engine.silence_file
    assert sf is not None
    now = engine.clock.now()

    def edit(silence: Silence, old: str | None) -> str:
        if old:
            if old not in sf.index.by_id:
                raise SilenceNotFound(f"silence {old!r} not found")
            if sf.index.by_id[old].state(now) != "expired":
                sf.expire(old, now)
        return sf.add(silence)

    try:
        silence = silence_from_api(body, now)
        old = body.get("id") if isinstance(body, dict) else None
        async with engine.silence_edits:
            sid = await asyncio.to_thread(edit, silence, str(old) if old else None)
    except SilenceNotFound as exc:
        return json_error(404, str(exc))
    except (SilenceError, ConfigError) as exc:
        return json_error(400, str(exc))
    return json_response({"silenceID": sid})


async def delete_silence(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    sf = engine.silence_file
    assert sf is not None
    try:
        async with engine.silence_edits:
            await asyncio.to_thread(sf.expire, request.match_info["id"], engine.clock.now())
    except SilenceNotFound as exc:
        return json_error(404, str(exc))
    except (SilenceError, ConfigError) as exc:
        return json_error(400, str(exc))
    return web.Response(status=200)


async def get_status(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return json_response({
        "cluster": {"name": "cronwatch", "status": "disabled", "peers": []},
        "config": {"original": engine.cfg.source_text},
        "uptime": rfc3339(engine.started_at),
        "versionInfo": {"version": __version__, "branch": "", "revision": "", "buildUser": "cronwatch",
                        "buildDate": "", "goVersion": "none (cronwatch alerter, Python)"},
    })


async def get_receivers(request: web.Request) -> web.Response:
    return json_response([{"name": r.name} for r in request.app[ENGINE].cfg.receivers])


async def get_receiver_status(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return json_response([s.status.to_json() for slots in engine.slots.values() for s in slots])


async def healthy(_request: web.Request) -> web.Response:
    return web.Response(text="OK")


async def ready(request: web.Request) -> web.Response:
    if request.app[ENGINE].ready:
        return web.Response(text="OK")
    return web.Response(status=503, text="not ready")


async def reload(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    try:
        cfg = request.app[RELOAD]()
        engine.apply(cfg)
    except ConfigError as exc:
        engine.metrics.config_ok.set(0)
        return json_error(400, "configuration not reloaded:\n" + "\n".join(exc.problems))
    engine.metrics.config_ok.set(1)
    engine.metrics.config_ts.set(time.time())
    return web.Response(text="OK")


def make_app(engine: Engine, reload_config: Callable[[], AlerterConfig] | None = None) -> web.Application:
    """The aiohttp application for ``engine``."""
    cfg = engine.cfg
    token = read_secret(cfg.api.token, str(cfg.path(cfg.api.token_file)) if cfg.api.token_file else None,
                        "api.token")
    app = web.Application(middlewares=[token_middleware(token)], client_max_size=cfg.api.max_body_bytes)
    app[ENGINE] = engine
    app[MAX_BODY] = cfg.api.max_body_bytes
    app[RELOAD] = reload_config or (lambda: engine.cfg)
    engine.metrics.config_ok.set(1)
    engine.metrics.config_ts.set(time.time())
    r = app.router
    r.add_post("/api/v2/alerts", post_alerts)
    r.add_get("/api/v2/alerts", get_alerts)
    r.add_get("/api/v2/alerts/groups", get_groups)
    r.add_post("/webhook", post_webhook)
    r.add_get("/api/v2/silences", get_silences)
    r.add_post("/api/v2/silences", post_silence)
    r.add_get("/api/v2/silence/{id}", get_silence)
    r.add_delete("/api/v2/silence/{id}", delete_silence)
    r.add_get("/api/v2/status", get_status)
    r.add_get("/api/v2/receivers", get_receivers)
    r.add_get("/api/cronwatch/v1/receivers", get_receiver_status)
    r.add_get("/-/healthy", healthy)
    r.add_get("/-/ready", ready)
    r.add_post("/-/reload", reload)
    r.add_get("/metrics", metrics_handler(engine.metrics.registry))
    return app
