"""Fixtures for the product tests (rules, dashboards, compose, Vector): the shared contract."""

from __future__ import annotations

import pytest
from product_support import DESIGN, contract_metric_names


@pytest.fixture(scope="session")
def contract_metrics() -> set[str]:
    """The metric names of the shared contract in DESIGN.md."""
    assert DESIGN.is_file(), f"shared DESIGN.md not found at {DESIGN}"
    return contract_metric_names()
