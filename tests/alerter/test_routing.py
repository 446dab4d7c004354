"""Routing tree and severity tiers, table-driven from cases/routing.yml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engine_helpers import config
from ruamel.yaml import YAML

from alerter.route import Router
from cronwatch.durations import parse_duration

CASES = YAML(typ="safe").load((Path(__file__).parent / "cases" / "routing.yml").read_text())


def _params() -> list[Any]:
    out = []
    for block in CASES:
        for i, case in enumerate(block["cases"]):
            out.append(pytest.param(block["config"], case, id=f"{block['name'][:40]}-{i}"))
    return out


@pytest.mark.parametrize(("cfg_text", "case"), _params())
def test_routing_table(tmp_path: Path, cfg_text: str, case: dict[str, Any]) -> None:
    """Each alert reaches exactly the listed receivers, in order, with the listed timings."""
    router = Router(config(cfg_text, tmp_path))
    labels = {k: str(v) for k, v in case["labels"].items()}
    assert router.receivers_for(labels) == case["receivers"]
    dests = router.destinations(labels)
    for opt in ("repeat_interval", "group_wait", "group_interval"):
        if opt in case:
            assert {getattr(d.opts, opt) for d in dests} == {parse_duration(case[opt])}


def test_group_key_matches_alertmanager_shape(tmp_path: Path) -> None:
    """Group keys have Alertmanager's ``route key:{group labels}`` form; tiers add ``#tier``."""
    router = Router(config("""
route:
  receiver: r
  group_by: [alertname]
  routes: [{matchers: ['severity="critical"'], receiver: r}]
tiers: {warning: {receivers: [r]}}
receivers: [{name: r}]
""", tmp_path))
    d = router.destinations({"alertname": "A", "severity": "critical"})[0]
    assert d.group_key(d.group_labels({"alertname": "A", "severity": "critical"})) == \
        '{}/{severity="critical"}:{alertname="A"}'
    w = router.destinations({"alertname": "A", "severity": "warning"})[0]
    assert w.group_key(w.group_labels({"alertname": "A", "task": "t"})) == '{}#warning:{alertname="A"}'


def test_group_by_all_labels(tmp_path: Path) -> None:
    """``group_by: ['...']`` puts every distinct label set in its own group."""
    router = Router(config("route: {receiver: r, group_by: ['...']}\nreceivers: [{name: r}]\n", tmp_path))
    d = router.destinations({"alertname": "A", "task": "t"})[0]
    assert d.group_labels({"alertname": "A", "task": "t"}) == {"alertname": "A", "task": "t"}


def _am_params() -> list[Any]:
    out = []
    for block in CASES:
        if "tiers:" in block["config"]:
            continue
        for i, case in enumerate(block["cases"]):
            out.append(pytest.param(block["config"], case, id=f"{block['name'][:40]}-{i}"))
    return out


@pytest.mark.parametrize(("cfg_text", "case"), _am_params())
def test_routing_agrees_with_amtool(tmp_path: Path, cfg_text: str, case: dict[str, Any]) -> None:
    """The real ``amtool config routes test`` routes every Alertmanager-compatible case the same way."""
    import subprocess

    cfg = tmp_path / "am.yml"
    cfg.write_text(cfg_text)
    labels = [f"{k}={v}" for k, v in case["labels"].items()]
    out = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={cfg}", *labels],
                         capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    assert out.split(",") == case["receivers"]
