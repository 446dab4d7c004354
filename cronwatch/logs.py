"""``cronwatch logs``: search job logs in Elasticsearch/OpenSearch from the terminal.

The query is built by :func:`build_query` (pure: filters in, search body out) and sent to the
daily indices ``<prefix>-*``. Results print as a table (rich) or as JSON lines (``--json``).
"""

from __future__ import annotations

import os
import re
import sys
from datetime import UTC, datetime
from typing import Any

import click
import httpx
import orjson

from cronwatch.durations import parse_duration
from cronwatch.errors import CronwatchError

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


class LogQueryError(CronwatchError):
    """The store could not be queried (unreachable, refused, or the query was rejected)."""


def normalise_trace_id(value: str) -> str:
    """A trace id as stored: 32 lowercase hex; a UUID loses its dashes (DESIGN.md)."""
    v = value.strip().lower().replace("-", "")
    if not _HEX32.match(v):
        raise click.BadParameter(f"{value!r} is not a trace id (32 hex digits or a UUID)", param_hint="--trace")
    return v


def parse_time(value: str, now: datetime) -> datetime:
    """``2h``/``30m`` (that long before ``now``) or an ISO 8601 time (UTC when no zone)."""
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a duration (2h) nor an ISO 8601 time") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def build_query(*, task: str | None = None, trace: str | None = None, levels: tuple[str, ...] = (),
                min_level: str | None = None, since: datetime | None = None, until: datetime | None = None,
                query: str | None = None, limit: int = 50) -> dict[str, Any]:
    """The search body for these filters; newest first (the caller reverses for display)."""
    filters: list[dict[str, Any]] = []
    if task:
        filters.append({"term": {"task.name": task}})
    if trace:
        filters.append({"term": {"trace.id": trace}})
    wanted = set(levels)
    if min_level:
        wanted |= set(LEVELS[LEVELS.index(min_level):])
    if wanted:
        filters.append({"terms": {"log.level": sorted(wanted, key=LEVELS.index)}})
    if since or until:
        rng: dict[str, str] = {}
        if since:
            rng["gte"] = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if until:
            rng["lte"] = until.astimezone(UTC).isoformat().replace("+00:00", "Z")
        filters.append({"range": {"@timestamp": rng}})
    boolq: dict[str, Any] = {"filter": filters}
    if query:
        boolq["must"] = [{"query_string": {"query": query, "default_field": "*"}}]
    return {"query": {"bool": boolq}, "sort": [{"@timestamp": {"order": "desc"}}], "size": limit}


def search(client: httpx.Client, index_prefix: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Run ``body`` against ``<prefix>-*``; hits oldest first, each with ``_index`` and ``_id``."""
    try:
        resp = client.post(f"/{index_prefix}-*/_search", params={"ignore_unavailable": "true",
                                                                   "allow_no_indices": "true"},
                           content=orjson.dumps(body), headers={"content-type": "application/json"})
    except httpx.HTTPError as exc:
        raise LogQueryError(f"cannot reach the store at {client.base_url}: {exc.__class__.__name__}") from exc
    if resp.status_code == 404:
        return []
    if resp.status_code >= 400:
        reason = resp.text[:300]
        try:
            err = resp.json().get("error", {})
            reason = err.get("reason", reason) if isinstance(err, dict) else str(err)
        except ValueError:
            pass
        raise LogQueryError(f"the store rejected the query (HTTP {resp.status_code}): {reason}")
    hits = resp.json().get("hits", {}).get("hits", [])
    return [{"_index": h.get("_index"), "_id": h.get("_id"), **h.get("_source", {})} for h in reversed(hits)]


def _field(doc: dict[str, Any], name: str) -> Any:
    """A field by its dotted name, whether stored flat (``"task.name"``) or nested."""
    if name in doc:
        return doc[name]
    node: Any = doc
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def render_table(hits: list[dict[str, Any]], out: Any) -> None:
    """Print hits as a rich table: time, level, task, trace, message (first line of the stack too)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for col in ("@timestamp", "level", "task", "trace.id", "message"):
        table.add_column(col, overflow="fold")
    styles = {"error": "red", "fatal": "bold red", "warn": "yellow", "debug": "dim", "trace": "dim"}
    for h in hits:
        level = str(_field(h, "log.level") or "")
        msg = str(_field(h, "message") or "")
        stack = _field(h, "error.stack_trace")
        if stack:
            msg += "\n" + "\n".join(str(stack).splitlines()[:6])
        table.add_row(str(_field(h, "@timestamp") or ""), f"[{styles.get(level, '')}]{level}" if level else "",
                      str(_field(h, "task.name") or ""), str(_field(h, "trace.id") or ""), msg)
    Console(file=out, width=max(100, Console().width)).print(table)


def make_client(hosts: str, api_key: str | None, user: str | None, password: str | None,
                ca: str | None, timeout: float = 10.0) -> httpx.Client:
    """An httpx client for the first host, with API key or basic auth; TLS always verified."""
    headers = {"Authorization": f"ApiKey {api_key}"} if api_key else {}
    auth = (user, password or "") if user else None
    verify: Any = ca if ca else True
    return httpx.Client(base_url=hosts.split(",")[0].strip(), headers=headers, auth=auth, verify=verify,
                        timeout=timeout)


@click.command()
@click.option("--hosts", default="http://localhost:9200", show_default=True, envvar="CRONWATCH_ES_HOSTS",
              help="Elasticsearch/OpenSearch URL.")
@click.option("--index-prefix", default="cronwatch", show_default=True, help="Daily indices are <prefix>-YYYY.MM.DD.")
@click.option("--task", help="Only this task (task.name).")
@click.option("--trace", help="Only this trace id (32 hex or a UUID).")
@click.option("--level", "levels", multiple=True, type=click.Choice(LEVELS), help="Only these levels (repeatable).")
@click.option("--min-level", type=click.Choice(LEVELS), help="This level and above.")
@click.option("--since", help="Start: a duration back from now (2h) or ISO 8601.")
@click.option("--until", help="End: a duration back from now or ISO 8601.")
@click.option("-q", "--query", help="A query string (Lucene syntax), e.g. 'message:timeout'.")
@click.option("-n", "--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@click.option("--api-key-env", default="CRONWATCH_ES_API_KEY", show_default=True,
              help="Environment variable holding an API key.")
@click.option("--user", envvar="CRONWATCH_ES_USER", help="Basic-auth user (password from CRONWATCH_ES_PASSWORD).")
@click.option("--ca", type=click.Path(exists=True, dir_okay=False), help="CA bundle for TLS.")
def logs(hosts: str, index_prefix: str, task: str | None, trace: str | None, levels: tuple[str, ...],
         min_level: str | None, since: str | None, until: str | None, query: str | None, limit: int,
         as_json: bool, api_key_env: str, user: str | None, ca: str | None) -> None:
    """Search job logs by task, trace id, level, time range or a query string.

    Example: cronwatch logs --task sync_orders --min-level error --since 1h
    """
    now = datetime.now(UTC)
    body = build_query(task=task, trace=normalise_trace_id(trace) if trace else None, levels=levels,
                       min_level=min_level, since=parse_time(since, now) if since else None,
                       until=parse_time(until, now) if until else None, query=query, limit=limit)
    client = make_client(hosts, os.environ.get(api_key_env), user, os.environ.get("CRONWATCH_ES_PASSWORD"), ca)
    try:
        hits = search(client, index_prefix, body)
    except LogQueryError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()
    if as_json:
        for h in hits:
            sys.stdout.write(orjson.dumps(h).decode() + "\n")
        return
    if not hits:
        click.echo("no matching log records", err=True)
        return
    render_table(hits, sys.stdout)


__all__ = ["build_query", "logs", "normalise_trace_id", "parse_time", "search"]
