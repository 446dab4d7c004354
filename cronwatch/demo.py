"""``cronwatch demo``: the whole pipeline on one machine, on embedded defaults.

Starts osmem-server (the store), the alerter, the shipper, the scheduler running
``examples/tasks.yml`` and Prometheus with ``rules/`` loaded, all on loopback, with state under
``var/demo/``; shows a live view; stops everything on Ctrl-C or after ``--duration``.
The same :class:`DemoStack` drives the end-to-end tests headless.
"""

from __future__ import annotations

import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import click

from cronwatch.supervise import Supervisor, cronwatch_cmd, pick_port

REPO = Path(__file__).resolve().parent.parent
INDEX_PREFIX = "cronwatch"
DEMO_ASSETS = REPO / "examples" / "demo"
PREFERRED_PORTS = {"store": 9200, "prometheus": 9090, "alerter": 9093, "scheduler": 8787, "shipper": 9108}


KIBANA_URL = "http://localhost:5601"  # where Kibana would be; the demo itself runs none


def demo_rules(src: Path, dst: Path, max_for: float = 10.0, interval: str = "2s") -> list[Path]:
    """Copy the alerting rules for a demo: evaluate every ``interval`` and cap each ``for``.

    Production rules wait minutes before firing; the demo must show an alert within a minute.
    The rules' ``__KIBANA_URL__``/``__RUNBOOK_URL__`` placeholders (see rules/README.md) are filled in.
    """
    from ruamel.yaml import YAML

    from cronwatch.durations import format_duration, parse_duration

    yaml = YAML(typ="rt")
    dst.mkdir(parents=True, exist_ok=True)
    out = []
    for path in sorted(src.glob("*.yml")):
        text = path.read_text().replace("__KIBANA_URL__", KIBANA_URL)
        text = text.replace("__RUNBOOK_URL__", (src / "RUNBOOK.md").resolve().as_uri())
        doc = yaml.load(text)
        for group in (doc or {}).get("groups", []):
            group["interval"] = interval
            for rule in group.get("rules", []):
                if "for" in rule and parse_duration(rule["for"]).total_seconds() > max_for:
                    rule["for"] = format_duration(parse_duration(max_for))
        target = dst / path.name
        with target.open("w") as fh:
            yaml.dump(doc, fh)
        out.append(target)
    return out


def prometheus_config(targets: dict[str, str], alerter: str, rule_files: list[Path]) -> str:
    """Prometheus configuration scraping cronwatch's services and alerting into our alerter."""
    lines = ["global:", "  scrape_interval: 2s", "  evaluation_interval: 2s", "rule_files:"]
    lines += [f"  - {p}" for p in rule_files] or ["  []"]
    lines += ["alerting:", "  alertmanagers:", "    - api_version: v2", "      static_configs:",
              f"        - targets: ['{alerter}']", "scrape_configs:"]
    for name, target in targets.items():
        lines += [f"  - job_name: cronwatch-{name}", "    static_configs:", f"      - targets: ['{target}']"]
    return "\n".join(lines) + "\n"


@dataclass
class DemoStack:
    """The running demo: where everything is, and how to stop it."""

    state: Path
    tasks_file: Path
    urls: dict[str, str] = field(default_factory=dict)
    supervisor: Supervisor | None = None
    store: Any = None
    prometheus: Any = None

    @property
    def outbox(self) -> Path:
        return self.state / "outbox"

    @property
    def silences(self) -> Path:
        return self.state / "silences.yml"

    @property
    def log_dir(self) -> Path:
        return self.state / "logs"

    def start(self, echo: Any = print) -> None:
        """Start every service, in dependency order, and wait until each is ready."""
        from cronwatch.testing import services

        st = self.state
        for sub in ("logs", "outbox", "shipper", "scheduler", "alerter", "prometheus", "run"):
            (st / sub).mkdir(parents=True, exist_ok=True)
        if not self.silences.exists():
            shutil.copy(DEMO_ASSETS / "silences.yml", self.silences)
        ports = {name: pick_port(p) for name, p in PREFERRED_PORTS.items()}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        self.supervisor = sup = Supervisor(st / "run")

        echo(f"starting the store (osmem-server) on {self.urls['store']}")
        self.store = services.start_osmem(port=ports["store"], log=st / "run" / "osmem.log")

        alerter_cfg = st / "alerter.yml"
        alerter_cfg.write_text((DEMO_ASSETS / "alerter.yml").read_text()
                               .replace("@OUTBOX@", str(self.outbox)).replace("@SILENCES@", str(self.silences)))
        echo(f"starting the alerter on {self.urls['alerter']}")
        sup.start("alerter", cronwatch_cmd("alerter", "run", "--config", str(alerter_cfg),
                                           "--listen", f"127.0.0.1:{ports['alerter']}"),
                  url=self.urls["alerter"], ready_path="/-/ready")

        echo(f"starting the shipper (metrics on {self.urls['shipper']})")
        sup.start("shipper", cronwatch_cmd("shipper", "run", "--path", str(self.log_dir / "*.log"),
                                           "--hosts", self.urls["store"], "--index-prefix", INDEX_PREFIX,
                                           "--state", str(st / "shipper"),
                                           "--listen", f"127.0.0.1:{ports['shipper']}"),
                  url=self.urls["shipper"], ready_path="/metrics")

        echo(f"starting the scheduler on {self.urls['scheduler']} with {self.tasks_file}")
        sup.start("scheduler", cronwatch_cmd("scheduler", "run", "--config", str(self.tasks_file),
                                             "--state", str(st / "scheduler"),
                                             "--log-file", str(self.log_dir / "tasks.log"),
                                             "--listen", f"127.0.0.1:{ports['scheduler']}"),
                  url=self.urls["scheduler"], ready_path="/healthz", cwd=REPO)

        rules = demo_rules(REPO / "rules", st / "prometheus" / "rules")
        cfg = prometheus_config({"scheduler": f"127.0.0.1:{ports['scheduler']}",
                                 "shipper": f"127.0.0.1:{ports['shipper']}",
                                 "alerter": f"127.0.0.1:{ports['alerter']}"},
                                f"127.0.0.1:{ports['alerter']}", rules)
        echo(f"starting Prometheus on {self.urls['prometheus']} with {len(rules)} rule files")
        self.prometheus = services.start_prometheus(st / "prometheus", cfg, port=ports["prometheus"])

    def stop(self) -> None:
        """Stop everything that was started (safe to call twice)."""
        if self.prometheus is not None:
            self.prometheus.stop()
            self.prometheus = None
        if self.supervisor is not None:
            self.supervisor.stop_all()
            self.supervisor = None
        if self.store is not None:
            self.store.stop()
            self.store = None


@click.command()
@click.option("--duration", type=float, default=None, help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--state", default="var/demo", show_default=True, type=click.Path(file_okay=False),
              help="Directory for the demo's state, logs and outbox.")
@click.option("--tasks", "tasks_file", default=str(REPO / "examples" / "tasks.yml"), show_default=True,
              type=click.Path(exists=True, dir_okay=False), help="The scheduler's tasks file.")
@click.option("--fresh/--keep", default=True, show_default=True, help="Start from empty state (keeps silences.yml).")
@click.option("--no-live", is_flag=True, help="Print a line every few seconds instead of the live view.")
def demo(duration: float | None, state: str, tasks_file: str, fresh: bool, no_live: bool) -> None:
    """Run the whole pipeline on one machine: store, Prometheus, alerter, shipper, scheduler."""
    import httpx
    from rich.console import Console
    from rich.live import Live

    from cronwatch.demoview import collect, render

    st = Path(state).resolve()
    if fresh and st.exists():
        for child in st.iterdir():
            if child.name != "silences.yml":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    stack = DemoStack(st, Path(tasks_file).resolve())
    stopping = {"flag": False}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping["flag"] = True

    old = signal.signal(signal.SIGTERM, on_signal)
    console = Console()
    try:
        stack.start(echo=lambda m: console.print(f"[bold]›[/bold] {m}"))
        hint = (f"edit {stack.silences} to silence · notifications in {stack.outbox} · "
                f"try: cronwatch logs --hosts {stack.urls['store']} --min-level error --since 1h · Ctrl-C stops")
        console.print(hint)
        started = time.monotonic()
        with httpx.Client(timeout=2.0) as client:
            if no_live:
                while not stopping["flag"] and (duration is None or time.monotonic() - started < duration):
                    snap = collect(client, stack.urls, INDEX_PREFIX, stack.outbox)
                    console.print(f"{time.monotonic() - started:5.0f}s runs={sum(snap.runs.values())} "
                                  f"docs={sum(snap.indices.values())} alerts={len(snap.alerts)} "
                                  f"sent={snap.outbox_count}")
                    time.sleep(5)
            else:
                with Live(console=console, refresh_per_second=2, screen=False) as live:
                    while not stopping["flag"] and (duration is None or time.monotonic() - started < duration):
                        snap = collect(client, stack.urls, INDEX_PREFIX, stack.outbox)
                        live.update(render(snap, stack.urls, time.monotonic() - started, "Ctrl-C stops"))
                        time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping every service…")
        stack.stop()
        signal.signal(signal.SIGTERM, old)
    console.print(f"stopped. State, logs and outbox are under {st}")
