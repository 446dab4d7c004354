"""The parse tests run in a known machine zone (UTC) unless a test sets another."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def utc_machine_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Zone-less times default to the machine's zone; pin it so results do not depend on the host."""
    monkeypatch.setenv("TZ", "UTC")
