"""Fixtures for the product tests (rules, dashboards, compose, Vector): the shared contract."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from live_stack import Stack, run_stack
from product_support import DESIGN, contract_metric_names

from cronwatch.testing import services


@pytest.fixture(scope="session")
def contract_metrics() -> set[str]:
    """The metric names of the shared contract in DESIGN.md."""
    assert DESIGN.is_file(), f"shared DESIGN.md not found at {DESIGN}"
    return contract_metric_names()


@pytest.fixture(scope="session")
def stack(osmem: services.Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The live scheduler + shipper + alerter + Prometheus stack, started once for the product tests."""
    yield from run_stack(osmem, tmp_path_factory.mktemp("live"))
