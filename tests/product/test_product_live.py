"""Every PromQL expression of the rules and dashboards, evaluated by a real Prometheus scraping real services.

One stack for the module: a real `cronwatch scheduler run` with tasks that succeed, fail, retry and
time out; a real `cronwatch shipper run` tailing its job log into osmem-server; a real
`cronwatch alerter run`; and Debian's Prometheus scraping all three every second with the rendered
rules loaded and alerting into the alerter.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from product_support import (
    REPO,
    RULES,
    grafana_exprs,
    kibana_objects,
    kql_fields,
    kql_to_query_string,
    rules,
    search_source,
)
from prometheus_client.parser import text_string_to_metric_families

from cronwatch.testing import services

KIBANA = "http://kibana.test:5601"
RUNBOOK = "https://wiki.test/cronwatch/RUNBOOK.md"
TASKS = """\
tasks:
  - {name: always_ok, schedule: "@every 1s", command: "true"}
  - {name: always_fails, schedule: "@every 1s", command: "echo boom >&2; exit 3"}
  - name: retried
    schedule: "@every 2s"
    command: "exit 1"
    retries: {attempts: 2, initial: 100ms, max: 200ms}
  - {name: too_slow, schedule: "@every 2s", command: "sleep 5", timeout: 500ms, kill_grace: 100ms}
"""
GRAFANA_VARS = {"$__rate_interval": "1m", "$__range": "5m", "$__interval": "15s"}


@dataclass
class Stack:
    """The running services and their URLs."""

    prometheus: services.Process
    scheduler: str
    shipper: str
    alerter: str
    store: str
    workdir: Path

    def query(self, expr: str) -> dict[str, Any]:
        """Run an instant query; the parsed JSON answer."""
        r = httpx.post(self.prometheus.url + "/api/v1/query", data={"query": expr}, timeout=30)
        body: dict[str, Any] = r.json()
        return body


def start_cronwatch(args: list[str], url: str, ready: str, log: Path) -> subprocess.Popen[bytes]:
    """Start `cronwatch ARGS...` and wait until GET url+ready answers."""
    cmd = [sys.executable, "-c", "from cronwatch.cli import main; main()", *args]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=REPO)
    try:
        services.wait_until(lambda: services.http_ok(url + ready), 30, " ".join(args[:2]), proc)
    except services.ServiceError:
        proc.kill()
        raise AssertionError(f"{' '.join(args[:2])} did not start:\n{log.read_text()[-3000:]}") from None
    return proc


def render_rules(out: Path) -> list[Path]:
    """The rule files with the placeholders filled in, as compose's rules-init does."""
    env = {**os.environ, "KIBANA_URL": KIBANA, "RUNBOOK_URL": RUNBOOK}
    subprocess.run(["sh", str(REPO / "deploy/prometheus/render-rules.sh"), str(RULES), str(out)], env=env,
                   check=True, capture_output=True, timeout=60)
    files = sorted(out.glob("*.rules.yml"))
    for path in files:  # evaluate the recording group every second too, like the global interval here
        path.write_text(path.read_text().replace("\n    interval: 1m\n", "\n    interval: 1s\n"))
    return files


@pytest.fixture(scope="module")
def stack(osmem: services.Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Scheduler, shipper, alerter and Prometheus, wired as in docker-compose.yml, on loopback."""
    work = tmp_path_factory.mktemp("live")
    (work / "tasks.yml").write_text(TASKS)
    procs: list[subprocess.Popen[bytes]] = []
    prom: services.Process | None = None
    try:
        sched = f"http://127.0.0.1:{services.free_port()}"
        procs.append(start_cronwatch(["scheduler", "run", "--config", str(work / "tasks.yml"), "--state",
                                      str(work / "scheduler"), "--listen", sched.removeprefix("http://")],
                                     sched, "/healthz", work / "scheduler.log"))
        ship = f"http://127.0.0.1:{services.free_port()}"
        procs.append(start_cronwatch(["shipper", "run", "--hosts", osmem.url, "--index-prefix", "live",
                                      "--path", str(work / "scheduler" / "logs" / "*.log"), "--state",
                                      str(work / "shipper"), "--listen", ship.removeprefix("http://")],
                                     ship, "/metrics", work / "shipper.log"))
        (work / "alerter.yml").write_text(
            "route: {receiver: archive, group_by: [alertname, task], group_wait: 0s, group_interval: 1s}\n"
            f"receivers:\n  - name: archive\n    file_configs: [{{directory: {work / 'notifications'}}}]\n"
            f"state_dir: {work / 'alerter'}\n")
        alert = f"http://127.0.0.1:{services.free_port()}"
        procs.append(start_cronwatch(["alerter", "run", "--config", str(work / "alerter.yml"), "--listen",
                                      alert.removeprefix("http://")], alert, "/-/ready", work / "alerter.log"))
        rule_files = render_rules(work / "rules")
        targets = {"cronwatch-scheduler": sched, "cronwatch-shipper": ship, "cronwatch-alerter": alert}
        scrape = "".join(f"  - job_name: {job}\n    static_configs: [{{targets: ['{url.removeprefix('http://')}']}}]\n"
                         for job, url in targets.items())
        config = ("global: {scrape_interval: 1s, evaluation_interval: 1s, external_labels: {env: test}}\n"
                  f"rule_files: [{', '.join(p.name for p in rule_files)}]\n"
                  "alerting:\n  alertmanagers:\n    - api_version: v2\n"
                  f"      static_configs: [{{targets: ['{alert.removeprefix('http://')}']}}]\n"
                  f"scrape_configs:\n{scrape}")
        prom = services.start_prometheus(work / "prometheus", config, rule_files)
        stack = Stack(prom, sched, ship, alert, osmem.url, work)

        def ready() -> bool:
            r = stack.query('count(up == 1) == 3 and on() count(cronwatch_log_task_runs_total) > 0')
            return bool(r["data"]["result"])

        services.wait_until(ready, 60, "the stack's first scrapes")
        time.sleep(3)  # a few rule evaluations over real data
        yield stack
    finally:
        if prom is not None:
            prom.stop()
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


def every_expression() -> list[tuple[str, str]]:
    """(where, expr) for each rule and each dashboard query, dashboard variables filled in."""
    out = [(f"{p.name}: {r.get('alert') or r.get('record')}", r["expr"]) for p, _, r in rules()]
    for name, title, expr in grafana_exprs():
        if expr.startswith("label_values("):
            expr = expr.removeprefix("label_values(").rsplit(",", 1)[0]
        for var, value in GRAFANA_VARS.items():
            expr = expr.replace(var, value)
        expr = re.sub(r"\$\w+", ".*", expr)
        out.append((f"{name}: {title}", expr))
    return out


@pytest.mark.parametrize(("where", "expr"), every_expression(), ids=[w for w, _ in every_expression()])
def test_expression_runs_on_real_prometheus(stack: Stack, where: str, expr: str) -> None:
    """The expression parses and evaluates without error against live cronwatch metrics."""
    answer = stack.query(expr)
    assert answer["status"] == "success", f"{where}: {answer.get('error')}"
    assert not answer.get("warnings"), f"{where}: {answer['warnings']}"


def test_every_rule_evaluates_healthy(stack: Stack) -> None:
    """Prometheus reports every loaded rule healthy (no evaluation error such as many-to-many matching)."""
    groups = httpx.get(stack.prometheus.url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = [r for g in groups for r in g["rules"]]
    assert len(loaded) == sum(1 for _ in rules())
    bad = [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"]
    assert bad == []


def families(url: str) -> set[str]:
    """The metric family names a service exposes on /metrics."""
    text = httpx.get(url + "/metrics", timeout=10).text
    return {f.name for f in text_string_to_metric_families(text)}


def test_services_expose_the_contract_metrics(stack: Stack, contract_metrics: set[str]) -> None:
    """The scheduler, shipper and alerter export every contract metric the rules and dashboards read."""
    exposed = families(stack.scheduler) | families(stack.shipper) | families(stack.alerter)
    exposed = {name.removesuffix("_total") for name in exposed}
    missing = {m for m in contract_metrics if m.removesuffix("_total") not in exposed}
    assert missing == set()


def test_recorded_series_have_data(stack: Stack) -> None:
    """The recording rules produce series from the live scheduler and the shipper's log-derived counters."""
    for name in ("task:cronwatch_task_runs:increase1h", "task:cronwatch_log_task_runs:increase1h",
                 "job:cronwatch_shipper_events:rate5m", "task:cronwatch_task_run_duration_seconds:p95_7d"):
        assert stack.query(name)["data"]["result"], name


def test_failing_task_fires_and_healthy_one_does_not(stack: Stack) -> None:
    """CronwatchTaskFailed fires for the tasks that fail or time out, never for the one that succeeds."""
    def firing() -> set[str]:
        result = stack.query('ALERTS{alertname="CronwatchTaskFailed", alertstate="firing"}')["data"]["result"]
        return {s["metric"]["task"] for s in result}

    services.wait_until(lambda: {"always_fails", "too_slow"} <= firing(), 20, "CronwatchTaskFailed")
    assert "always_ok" not in firing()


def test_the_alerter_receives_the_alert_with_rendered_links(stack: Stack) -> None:
    """Prometheus delivers the alert to the cronwatch alerter with contract labels and a Kibana link for the task."""
    def received() -> list[dict[str, Any]]:
        alerts = httpx.get(stack.alerter + "/api/v2/alerts", timeout=10).json()
        return [a for a in alerts if a["labels"].get("alertname") == "CronwatchTaskFailed"
                and a["labels"].get("task") == "always_fails"]

    services.wait_until(lambda: bool(received()), 30, "alert at the alerter")
    alert = received()[0]
    assert alert["labels"]["severity"] == "warning" and alert["labels"]["team"] == "ops"
    assert alert["labels"]["env"] == "test" and alert["labels"]["job"] == "cronwatch-scheduler"
    ann = alert["annotations"]
    assert ann["kibana_url"].startswith(KIBANA + "/app/discover#/")
    assert "task.name:%22always_fails%22" in ann["kibana_url"]
    assert ann["runbook_url"] == RUNBOOK + "#cronwatchtaskfailed"
    assert ann["summary"] == "Task always_fails failed its last run"


# --- the Kibana objects against the index the real shipper wrote --------------------------------

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
    import json as _json

    fields: set[str] = set()
    for obj in kibana_objects():
        attrs = obj["attributes"]
        if obj["type"] == "index-pattern":
            fields.add(attrs["timeFieldName"])
            fields |= set(_json.loads(attrs["fieldFormatMap"])) | set(_json.loads(attrs["fieldAttrs"]))
        if obj["type"] in ("search", "visualization"):
            fields |= kql_fields(search_source(obj)["query"]["query"])
        if obj["type"] == "search":
            fields |= set(attrs["columns"]) | {f for f, _ in attrs["sort"]}
        if obj["type"] == "visualization":
            fields |= {a["params"]["field"] for a in _json.loads(attrs["visState"])["aggs"] if "field" in a["params"]}
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
    import json as _json

    services.wait_until(lambda: bool(failed_docs(stack)), 30, "failed runs in the store")
    keys: dict[str, set[str]] = {}
    for obj in kibana_objects():
        if obj["type"] != "visualization":
            continue
        state = _json.loads(obj["attributes"]["visState"])
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
