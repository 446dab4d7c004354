"""Fixtures of the scheduler tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sched_sample_tasks
from sched_helpers import Harness


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """A scheduler on a fake clock with a real job log and SQLite state."""
    sched_sample_tasks.reset()
    h = Harness(tmp_path)
    yield h
    if h.loop_task is not None and not h.loop_task.done():
        await h.stop()
