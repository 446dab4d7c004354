"""The Kibana saved objects against the index the real shipper wrote (live stack, osmem-server).

Every field they use is mapped; each saved search's query and each visualization's aggregation
runs on the shipped job logs and finds what it should (the failing tasks, one trace, outcomes).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from live_stack import Stack
from product_support import kibana_objects, kql_fields, kql_to_query_string, search_source

from cronwatch.testing import services


def osmem_search(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    """POST live-*/_search on the store the live shipper writes to; the parsed answer (2xx asserted)."""
    r = httpx.post(stack.store + "/live-*/_search", json=body, timeout=30)
    assert r.status_code == 200, r.text[:2000]
    answer: dict[str, Any] = r.json()
    return answer


def failed_docs(stack: Stack) -> list[dict[str, Any]]:
    """Failed-run records the shipper indexed from the scheduler's job log."""
    body = {"query": {"terms": {"event.action": ["task.failed", "task.timed_out"]}}, "size": 20}
    return [h["_source"] for h in osmem_search(stack, body)["hits"]["hits"]]


def mapped_fields(stack: Stack) -> set[str]:
    """Every field path mapped in the live indices."""
    found: set[str] = set()

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            found.add(prefix + name)
            walk(spec.get("properties", {}), prefix + name + ".")

    for index in httpx.get(stack.store + "/live-*/_mapping", timeout=30).json().values():
        walk(index["mappings"].get("properties", {}), "")
    return found


def kibana_fields() -> set[str]:
    """Every field a Kibana saved object uses: data view, columns, sorts, queries, aggregations."""
    fields: set[str] = set()
    for obj in kibana_objects():
        attrs = obj["attributes"]
        if obj["type"] == "index-pattern":
            fields.add(attrs["timeFieldName"])
            fields |= set(json.loads(attrs["fieldFormatMap"])) | set(json.loads(attrs["fieldAttrs"]))
        if obj["type"] in ("search", "visualization"):
            fields |= kql_fields(search_source(obj)["query"]["query"])
        if obj["type"] == "search":
            fields |= set(attrs["columns"]) | {f for f, _ in attrs["sort"]}
        if obj["type"] == "visualization":
            fields |= {a["params"]["field"] for a in json.loads(attrs["visState"])["aggs"] if "field" in a["params"]}
    return fields


def test_kibana_fields_are_mapped_in_the_real_index(stack: Stack) -> None:
    """The index the real shipper created (with its template) maps every field the Kibana objects use."""
    services.wait_until(lambda: bool(failed_docs(stack)), 30, "failed runs in the store")
    missing = kibana_fields() - mapped_fields(stack)
    assert missing == set()


def test_saved_searches_find_the_failing_task(stack: Stack) -> None:
    """Each saved search's query runs on the shipped logs; "failed runs" finds the failing tasks, "one trace" one run."""
    services.wait_until(lambda: bool(failed_docs(stack)), 30, "failed runs in the store")
    trace = failed_docs(stack)[0]["trace.id"]
    results: dict[str, list[dict[str, Any]]] = {}
    for obj in kibana_objects():
        if obj["type"] != "search":
            continue
        query = search_source(obj)["query"]["query"].replace('"sync_orders"', '"always_fails"')
        query = re.sub(r'trace.id : "[0-9a-f]{32}"', f'trace.id : "{trace}"', query)
        field, order = obj["attributes"]["sort"][0]
        body = {"query": {"query_string": {"query": kql_to_query_string(query)}}, "sort": [{field: order}],
                "size": 50}
        results[obj["id"]] = [h["_source"] for h in osmem_search(stack, body)["hits"]["hits"]]
    failed = {d["task.name"] for d in results["cronwatch-failed-runs"]}
    assert {"always_fails", "too_slow"} <= failed and "always_ok" not in failed
    assert results["cronwatch-one-trace"] and {d["trace.id"] for d in results["cronwatch-one-trace"]} == {trace}
    assert {d["task.name"] for d in results["cronwatch-one-task"]} == {"always_fails"}


def agg_body(state: dict[str, Any]) -> dict[str, Any]:
    """The Elasticsearch aggregation a legacy Kibana visualization asks for (the agg types used here)."""
    metrics, buckets = {}, []
    for agg in state["aggs"]:
        p = agg["params"]
        if agg["type"] == "count":
            continue
        if agg["type"] in ("max", "avg", "min", "sum"):
            metrics[agg["id"]] = {agg["type"]: {"field": p["field"]}}
        elif agg["type"] == "percentiles":
            metrics[agg["id"]] = {"percentiles": {"field": p["field"], "percents": p["percents"]}}
        elif agg["type"] == "terms":
            buckets.append((agg["id"], {"terms": {"field": p["field"], "size": p["size"]}}))
        elif agg["type"] == "date_histogram":
            buckets.append((agg["id"], {"date_histogram": {"field": p["field"], "fixed_interval": "1m"}}))
        else:
            raise AssertionError(f"unexpected aggregation {agg['type']}")
    inner: dict[str, Any] = dict(metrics)
    for agg_id, spec in reversed(buckets):
        inner = {agg_id: {**spec, **({"aggs": inner} if inner else {})}}
    return inner


def bucket_keys(node: Any) -> set[str]:
    """Every bucket key anywhere in an aggregation answer."""
    found: set[str] = set()
    if isinstance(node, dict):
        found |= {str(b.get("key")) for b in node.get("buckets", []) if isinstance(b, dict)}
        for value in node.values():
            found |= bucket_keys(value)
    elif isinstance(node, list):
        for item in node:
            found |= bucket_keys(item)
    return found


def test_visualizations_aggregate_the_shipped_logs(stack: Stack) -> None:
    """Each visualization's aggregation runs on the real index; outcomes and the failing task show up."""
    services.wait_until(lambda: bool(failed_docs(stack)), 30, "failed runs in the store")
    keys: dict[str, set[str]] = {}
    for obj in kibana_objects():
        if obj["type"] != "visualization":
            continue
        state = json.loads(obj["attributes"]["visState"])
        query = search_source(obj)["query"]["query"]
        body: dict[str, Any] = {"size": 0, "aggs": agg_body(state)}
        if query:
            body["query"] = {"query_string": {"query": kql_to_query_string(query)}}
        answer = osmem_search(stack, body)
        keys[obj["id"]] = bucket_keys(answer.get("aggregations", {}))
    assert {"success", "failure"} <= keys["cronwatch-runs-by-outcome"]
    assert {"always_fails", "too_slow"} <= keys["cronwatch-top-failing-tasks"]
    assert "always_ok" in keys["cronwatch-run-duration"]
    assert {"info", "error"} <= keys["cronwatch-log-levels"]
