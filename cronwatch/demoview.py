"""The demo's live terminal view: what ran, what was indexed, what fired, what was sent.

:func:`collect` reads the services' own APIs (each may be down; it then says so) and
:func:`render` turns a snapshot into a rich renderable. Both are cheap enough to run every second.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass
class Snapshot:
    """Everything the view shows at one moment."""

    runs: Counter[tuple[str, str]] = field(default_factory=Counter)  # (task, outcome) -> count
    indices: dict[str, int] = field(default_factory=dict)  # index -> docs
    alerts: list[dict[str, Any]] = field(default_factory=list)  # alerter's active alerts
    outbox: list[str] = field(default_factory=list)  # the newest notifications, one line each
    outbox_count: int = 0  # notifications (the rendered DingTalk/WeCom/mail previews not counted)
    errors: list[str] = field(default_factory=list)


def scrape_runs(metrics_text: str) -> Counter[tuple[str, str]]:
    """``cronwatch_task_runs_total{task,outcome}`` from a /metrics page."""
    runs: Counter[tuple[str, str]] = Counter()
    for fam in text_string_to_metric_families(metrics_text):
        if fam.name != "cronwatch_task_runs":
            continue
        for s in fam.samples:
            if s.name.endswith("_total"):
                runs[(s.labels.get("task", ""), s.labels.get("outcome", ""))] += int(s.value)
    return runs


def collect(client: httpx.Client, urls: dict[str, str], index_prefix: str, outbox: Path) -> Snapshot:
    """Read every service once; failures become lines in ``errors``, never exceptions."""
    snap = Snapshot()
    try:
        snap.runs = scrape_runs(client.get(urls["scheduler"] + "/metrics").text)
    except httpx.HTTPError as exc:
        snap.errors.append(f"scheduler: {exc.__class__.__name__}")
    try:
        rows = client.get(f"{urls['store']}/_cat/indices/{index_prefix}-*", params={"format": "json"}).json()
        snap.indices = {r["index"]: int(r.get("docs.count") or 0) for r in rows if isinstance(r, dict)}
    except (httpx.HTTPError, ValueError) as exc:
        snap.errors.append(f"store: {exc.__class__.__name__}")
    try:
        snap.alerts = client.get(urls["alerter"] + "/api/v2/alerts").json()
    except (httpx.HTTPError, ValueError) as exc:
        snap.errors.append(f"alerter: {exc.__class__.__name__}")
    if outbox.is_dir():
        files = sorted(p for p in outbox.glob("*.json") if ".dry-run." not in p.name)
        snap.outbox_count = len(files)
        snap.outbox = [describe_notification(p) for p in files[-5:]]
    return snap


def describe_notification(path: Path) -> str:
    """``firing CronwatchTaskFailed sync_orders (1 alert)`` for a webhook payload in the outbox."""
    try:
        doc = json.loads(path.read_text())
        labels = doc.get("groupLabels", {})
        n = len(doc.get("alerts", []))
        return (f"{doc.get('status', '?')} {labels.get('alertname', '')} {labels.get('task', '')} "
                f"({n} alert{'s' if n != 1 else ''})").replace("  ", " ")
    except (OSError, ValueError, AttributeError):
        return path.name


def render(snap: Snapshot, urls: dict[str, str], elapsed: float, hint: str) -> Any:
    """A rich renderable for ``snap``."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table

    runs = Table(title="task runs", expand=True)
    runs.add_column("task")
    outcomes = sorted({o for _, o in snap.runs}) or ["success", "failure"]
    for o in outcomes:
        runs.add_column(o, justify="right")
    for task in sorted({t for t, _ in snap.runs}):
        runs.add_row(task, *(str(snap.runs.get((task, o), 0)) for o in outcomes))

    idx = Table(title="events indexed", expand=True)
    idx.add_column("daily index")
    idx.add_column("docs", justify="right")
    for name, count in sorted(snap.indices.items()):
        idx.add_row(name, str(count))

    al = Table(title=f"alerts ({len(snap.alerts)} active) · notifications sent: {snap.outbox_count}", expand=True)
    al.add_column("alert")
    al.add_column("task")
    al.add_column("severity")
    al.add_column("state")
    for a in snap.alerts[:10]:
        labels = a.get("labels", {})
        state = a.get("status", {}).get("state", "") if isinstance(a.get("status"), dict) else ""
        al.add_row(labels.get("alertname", ""), labels.get("task", ""), labels.get("severity", ""), state)
    for name in snap.outbox:
        al.add_row(f"[dim]sent: {name}[/dim]", "", "", "")

    links = Table.grid(padding=(0, 2))
    for name, url in urls.items():
        links.add_row(name, url)
    footer = f"running {elapsed:.0f}s · {hint}"
    if snap.errors:
        footer += " · [yellow]" + "; ".join(snap.errors) + "[/yellow]"
    return Group(Panel(links, title="cronwatch demo"), runs, idx, al, footer)
