"""``cronwatch logs`` against a real osmem-server: filters, ordering, output formats, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from click.testing import CliRunner

from cronwatch.cli import cli
from cronwatch.logs import build_query, normalise_trace_id, parse_time
from cronwatch.testing import services

PREFIX = "logs-cli"
DOCS = [
    {"@timestamp": "2026-11-22T02:00:00.001Z", "log.level": "info", "message": "task started",
     "task.name": "sync_orders", "trace.id": "4bf92f3577b34da6a3ce929d0e0e4736"},
    {"@timestamp": "2026-11-22T02:00:03.412Z", "log.level": "error", "message": "task failed",
     "task.name": "sync_orders", "trace.id": "4bf92f3577b34da6a3ce929d0e0e4736",
     "error.stack_trace": "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: boom"},
    {"@timestamp": "2026-11-23T01:00:00.000Z", "log.level": "warn", "message": "slow query",
     "task.name": "backup", "trace.id": "550e8400e29b41d4a716446655440000"},
]


@pytest.fixture(scope="module")
def store(osmem: services.Process) -> str:
    """The session's osmem-server with three job log records in two daily indices."""
    mapping = {"index_patterns": [f"{PREFIX}-*"], "template": {"mappings": {"properties": {
        "@timestamp": {"type": "date"}, "message": {"type": "text"},
        "task": {"properties": {"name": {"type": "keyword"}}}, "trace": {"properties": {"id": {"type": "keyword"}}},
        "log": {"properties": {"level": {"type": "keyword"}}}}}}}
    httpx.put(f"{osmem.url}/_index_template/{PREFIX}", json=mapping).raise_for_status()
    lines = []
    for i, d in enumerate(DOCS):
        lines.append(json.dumps({"index": {"_index": f"{PREFIX}-{d['@timestamp'][:10].replace('-', '.')}", "_id": str(i)}}))
        lines.append(json.dumps(d))
    r = httpx.post(f"{osmem.url}/_bulk?refresh=true", content="\n".join(lines) + "\n",
                   headers={"content-type": "application/x-ndjson"})
    assert r.json()["errors"] is False
    return osmem.url


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["logs", *args])
    return result.exit_code, result.output


def test_filter_by_task_and_level_json(store: str) -> None:
    """--task and --min-level select the failed record, printed as JSON with its index."""
    code, out = run("--hosts", store, "--index-prefix", PREFIX, "--task", "sync_orders", "--min-level", "error",
                    "--json")
    assert code == 0, out
    docs = [json.loads(line) for line in out.splitlines()]
    assert [d["message"] for d in docs] == ["task failed"]
    assert docs[0]["_index"] == f"{PREFIX}-2026.11.22"


def test_trace_id_uuid_is_normalised(store: str) -> None:
    """A UUID trace id finds the record stored with 32 hex digits."""
    code, out = run("--hosts", store, "--index-prefix", PREFIX, "--trace", "550e8400-e29b-41d4-a716-446655440000",
                    "--json")
    assert code == 0, out
    assert [json.loads(line)["task.name"] for line in out.splitlines()] == ["backup"]


def test_time_range_and_order(store: str) -> None:
    """--since/--until bound the time and results come oldest first."""
    code, out = run("--hosts", store, "--index-prefix", PREFIX, "--since", "2026-11-22T00:00:00Z",
                    "--until", "2026-11-22T23:59:59Z", "--json")
    assert code == 0, out
    assert [json.loads(line)["message"] for line in out.splitlines()] == ["task started", "task failed"]


def test_table_shows_stack_trace(store: str) -> None:
    """The table view shows the task, the level and the first lines of the stack trace."""
    code, out = run("--hosts", store, "--index-prefix", PREFIX, "-q", "message:failed")
    assert code == 0, out
    assert "sync_orders" in out and "error" in out and "ValueError: boom" in out


def test_unreachable_store_is_a_clear_error() -> None:
    """An unreachable store is a one-line error naming the URL, exit 1."""
    url = f"http://127.0.0.1:{services.free_port()}"
    code, out = run("--hosts", url)
    assert code == 1 and f"cannot reach the store at {url}" in out


def test_bad_trace_id_names_the_option() -> None:
    """A malformed trace id is rejected naming --trace."""
    code, out = run("--trace", "nothex")
    assert code == 2 and "--trace" in out


def test_build_query_pure() -> None:
    """The query builder combines filters and sorts newest first."""
    body = build_query(task="t", levels=("warn",), min_level="error", query="x", limit=5)
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"task.name": "t"}} in filters
    assert {"terms": {"log.level": ["warn", "error", "fatal"]}} in filters
    assert body["size"] == 5 and body["sort"] == [{"@timestamp": {"order": "desc"}}]
    assert normalise_trace_id("4BF92F35-77B3-4DA6-A3CE-929D0E0E4736") == "4bf92f3577b34da6a3ce929d0e0e4736"
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert parse_time("2h", now) == datetime(2026, 11, 23, 10, tzinfo=UTC)
