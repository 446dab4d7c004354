"""Fixtures shared by the whole suite: real services on free loopback ports, one per session."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from cronwatch.testing import services

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"


@pytest.fixture(scope="session", autouse=True)
def _no_implicit_event_loop() -> None:
    """Mark the main thread as having no current event loop.

    pytest-asyncio asks for the current loop around every async test; without a loop set, asyncio
    would silently create one that nobody closes, and a later ``asyncio.run`` (our CLIs, run
    in-process by CliRunner) orphans it: an "unclosed event loop" ResourceWarning in an unrelated test.
    """
    asyncio.set_event_loop(None)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The sample job logs in ../shared/corpus."""
    assert CORPUS.is_dir(), f"shared corpus not found at {CORPUS}"
    return CORPUS


@pytest.fixture(scope="session")
def osmem(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Process]:
    """A real osmem-server (OpenSearch-compatible store) for the whole session."""
    log = tmp_path_factory.mktemp("osmem") / "osmem.log"
    with services.start_osmem(log=log) as proc:
        yield proc


@pytest.fixture
def osmem_fresh(tmp_path: Path) -> Iterator[services.Process]:
    """A real osmem-server of the test's own, for tests that stop or restart the store."""
    with services.start_osmem(log=tmp_path / "osmem.log") as proc:
        yield proc


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[services.Process]:
    """A real redis-server without persistence."""
    with services.start_redis(tmp_path / "redis") as proc:
        yield proc


@pytest.fixture
def smtp_server() -> Iterator[services.SmtpServer]:
    """A real aiosmtpd server (plain) that records messages."""
    with services.start_smtp() as srv:
        yield srv


@pytest.fixture
def smtp_starttls() -> Iterator[services.SmtpServer]:
    """A real aiosmtpd server offering STARTTLS with a test CA and AUTH for user/secret."""
    with services.start_smtp(starttls=True, require_starttls=True, users={"cronwatch": "s3cret"}) as srv:
        yield srv
