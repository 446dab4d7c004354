"""Assembling a shipper from ``ShipperConfig``: store detection, index templates, parsers, the pipeline.

The commands in :mod:`shipper.commands` call :func:`open_pipeline`; tests may pass their own
parsers or transport.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx

from cronwatch.retry import Backoff, retry_async
from shipper.config import InputConfig, ShipperConfig
from shipper.filters import InputRules
from shipper.logmetrics import ShipperMetrics
from shipper.runner import Limits, ParserLike, Pipeline
from shipper.sink.deadletter import DeadLetterFile
from shipper.sink.encoder import IndexNamer
from shipper.sink.errors import StoreUnavailable
from shipper.sink.service import Distribution, StoreService, auth_headers
from shipper.sink.sink import BulkSink
from shipper.sink.template import index_template, template_name
from shipper.tail.checkpoint import CheckpointStore
from shipper.tail.tailer import InputFiles

log = logging.getLogger("cronwatch.shipper")


def tune_gc() -> None:
    """Fewer full garbage collections for a long-running shipper (start-up objects are frozen).

    The pipeline keeps thousands of young objects alive between reads; with the default
    thresholds the collector rescans them over and over (about a fifth of the CPU time).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 50)


def compile_parsers(inputs: Sequence[InputConfig]) -> list[ParserLike]:
    """One compiled parser per input (bad patterns fail here, at start-up)."""
    from shipper.parse import compile_parser

    return [compile_parser(inp) for inp in inputs]


def make_service(cfg: ShipperConfig, transport: httpx.AsyncBaseTransport | None = None) -> StoreService:
    """The store client with credentials and CA from the configuration."""
    s = cfg.sink
    password, api_key = s.secrets()
    return StoreService(s.hosts, headers=auth_headers(s.username, password, api_key), ca_file=s.ca_file,
                        timeout=s.timeout.total_seconds(), gzip=s.gzip, transport=transport)


def prefixes(cfg: ShipperConfig) -> list[str]:
    """Every index prefix the inputs may write to."""
    out = {cfg.sink.index_prefix}
    for inp in cfg.inputs:
        out.update(p for p in (inp.index_prefix, inp.error_index_prefix) if p)
    return sorted(out)


async def prepare_store(service: StoreService, cfg: ShipperConfig) -> Distribution:
    """Detect the distribution and install the index template for every prefix."""
    dist = await service.info()
    log.info("store detected", extra={"service.type": dist.name, "service.version": ".".join(map(str, dist.version))})
    if cfg.sink.install_template:
        for prefix in prefixes(cfg):
            await service.put_template(template_name(prefix), index_template(prefix, dist.name, dist.version))
    return dist


def limits(cfg: ShipperConfig) -> Limits:
    """Batching and timing settings from the configuration."""
    s = cfg.sink
    return Limits(batch_events=s.batch_events, batch_bytes=s.batch_bytes,
                  flush_interval=s.flush_interval.total_seconds(), max_in_flight=s.max_in_flight,
                  scan_interval=cfg.scan_interval.total_seconds(),
                  checkpoint_interval=cfg.checkpoint_interval.total_seconds(),
                  shutdown_timeout=cfg.shutdown_timeout.total_seconds(), rotate_wait=cfg.rotate_wait.total_seconds(),
                  eof_line_timeout=cfg.eof_line_timeout.total_seconds(),
                  close_inactive=cfg.close_inactive.total_seconds())


def build_pipeline(cfg: ShipperConfig, service: StoreService, *, state_dir: str | Path | None = None,
                   parsers: Sequence[ParserLike] | None = None, metrics: ShipperMetrics | None = None) -> Pipeline:
    """The pipeline for ``cfg``'s inputs writing through ``service``."""
    state = Path(state_dir or cfg.state_dir)
    metrics = metrics or ShipperMetrics(max_tasks=cfg.max_task_labels)
    s = cfg.sink
    dead = DeadLetterFile(s.dead_letter_file or state / "dead-letter.ndjson")
    sink = BulkSink(service, dead, metrics=metrics, item_attempts=s.item_max_attempts,
                    backoff=Backoff(initial=s.retry_initial.total_seconds(), maximum=s.retry_max.total_seconds()))
    files = [InputFiles(inp.paths, inp.exclude, inp.read_from == "end") for inp in cfg.inputs]
    rules = [InputRules(inp.index_prefix or s.index_prefix, drop_levels=inp.drop_levels, drop_regex=inp.drop_regex,
                        sample=inp.sample, error_prefix=inp.error_index_prefix) for inp in cfg.inputs]
    return Pipeline(files, parsers if parsers is not None else compile_parsers(cfg.inputs), rules, sink,
                    CheckpointStore(state), namer=IndexNamer(cfg.zone()), limits=limits(cfg), metrics=metrics,
                    max_line_bytes=[inp.max_line_bytes for inp in cfg.inputs])


@contextlib.asynccontextmanager
async def open_pipeline(cfg: ShipperConfig, *, state_dir: str | Path | None = None,
                        parsers: Sequence[ParserLike] | None = None, metrics: ShipperMetrics | None = None,
                        transport: httpx.AsyncBaseTransport | None = None) -> AsyncIterator[Pipeline]:
    """Connect to the store (waiting while it is down), install templates, and yield the pipeline."""
    service = make_service(cfg, transport)
    try:
        pipeline = build_pipeline(cfg, service, state_dir=state_dir, parsers=parsers, metrics=metrics)
        backoff = Backoff(initial=cfg.sink.retry_initial.total_seconds(), maximum=cfg.sink.retry_max.total_seconds())

        def on_retry(attempt: int, exc: BaseException, wait: float) -> None:
            log.warning("store not reachable at start-up: retrying", extra={"error.message": str(exc),
                                                                           "event.sequence": attempt})

        await retry_async(lambda: prepare_store(service, cfg), attempts=None, backoff=backoff,
                          retryable=lambda e: isinstance(e, StoreUnavailable), on_retry=on_retry)
        yield pipeline
    finally:
        await service.close()
