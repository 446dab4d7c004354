"""Engine behaviour table-driven from cases/scenarios.yml: timers, dedup over restarts, inhibition, silences, windows, tiers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engine_helpers import engine, firing, outbox, post, resolved
from ruamel.yaml import YAML

from alerter.engine import Engine
from cronwatch.clock import FakeClock
from cronwatch.durations import parse_duration

SCENARIOS = YAML(typ="safe").load((Path(__file__).parent / "cases" / "scenarios.yml").read_text())


def _labels(raw: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in raw.items()}


def _describe(payloads: list[dict[str, Any]]) -> list[list[Any]]:
    out = []
    for p in payloads:
        alerts = sorted(f"{a['labels'].get('alertname', '')}/{a['labels'].get('task', '')} {a['status']}"
                        for a in p["alerts"])
        out.append([p["receiver"], p["status"], alerts])
    return sorted(out)


async def _advance(e: Engine, clk: FakeClock, seconds: float) -> None:
    """Move the clock in steps no longer than a minute, flushing whatever is due on the way."""
    left = seconds
    while True:
        await e.run_due()
        if left <= 0:
            return
        step = min(60.0, left)
        clk.advance(step)
        left -= step


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"][:50] for s in SCENARIOS])
async def test_scenario(tmp_path: Path, scenario: dict[str, Any]) -> None:
    """Each step's notifications are exactly the expected ones, no more and no fewer."""
    if "silences" in scenario:
        (tmp_path / "silences.yml").write_text(scenario["silences"])
    e, clk = engine(scenario["config"], tmp_path)
    seen = 0
    try:
        for i, step in enumerate(scenario["steps"]):
            if "fire" in step:
                lasts = parse_duration(step.get("lasts", "4m")).total_seconds()
                post(e, *[firing(_labels(ls), clk, starts_ago=step.get("starts_ago", 0), lasts=lasts)
                          for ls in step["fire"]])
            elif "resolve" in step:
                post(e, *[resolved(_labels(ls), clk) for ls in step["resolve"]])
            elif "advance" in step:
                await _advance(e, clk, parse_duration(step["advance"]).total_seconds())
            elif "restart" in step:
                await e.stop()
                e, _ = engine(scenario["config"], tmp_path, clock=clk)
            elif "expect" in step:
                got = outbox(tmp_path / "outbox")
                assert _describe(got[seen:]) == sorted(step["expect"]), f"step {i}"
                seen = len(got)
    finally:
        await e.stop()
