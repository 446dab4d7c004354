"""``cronwatch shipper run | backfill | check``.

The common case needs no file: ``--hosts``, ``--index-prefix``, ``--tz``, ``--state`` and
(for ``run``) ``--path GLOB`` override or replace the configuration; ``--embedded`` starts an
in-memory store (osmem-server) to try it without a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

log = logging.getLogger("cronwatch.shipper")


def _errors(fn: Any) -> Any:
    """Print the shipper's own errors (corrupt checkpoint, store refusing us) as one line, exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from cronwatch.errors import ConfigError
        from shipper.errors import ShipperError

        try:
            return fn(*args, **kwargs)
        except ConfigError:
            raise
        except ShipperError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper


def _common(fn: Any) -> Any:
    fn = _errors(fn)
    for opt in reversed([
        click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="shipper.yml (optional: flags are enough for the common case)."),
        click.option("--hosts", default=None, help="Store URL(s), comma-separated [default: http://localhost:9200]."),
        click.option("--index-prefix", default=None, help="Daily index prefix [default: cronwatch]."),
        click.option("--tz", default=None, help="Zone of times written without one and of the index day (default UTC), e.g. Asia/Shanghai."),
        click.option("--state", default=None, help="State directory for checkpoints and the dead-letter file."),
        click.option("--embedded", is_flag=True, help="Start an in-memory store (osmem-server) and ship into it."),
    ]):
        fn = opt(fn)
    return fn


def load(config_path: str | None, *, hosts: str | None = None, index_prefix: str | None = None,
         tz: str | None = None, state: str | None = None, paths: tuple[str, ...] = ()) -> Any:
    """The configuration from the file (if any), environment and flags; errors name file:line."""
    from cronwatch.config import load_config
    from cronwatch.errors import ConfigError
    from shipper.config import InputConfig, ShipperConfig, SinkConfig

    cfg = load_config(config_path, ShipperConfig, overrides={"tz": tz, "state_dir": state})
    sink_update: dict[str, Any] = {}
    if hosts:
        sink_update["hosts"] = [h.strip() for h in hosts.split(",") if h.strip()]
    if index_prefix:
        sink_update["index_prefix"] = index_prefix
    try:
        if sink_update:
            cfg.sink = SinkConfig.model_validate({**cfg.sink.model_dump(), **sink_update})
        if paths:
            base = cfg.inputs[0].model_dump(exclude={"paths"}) if cfg.inputs else {}
            cfg.inputs = [InputConfig.model_validate({**base, "paths": list(paths)})]
        if tz:  # --tz also reads times written without a zone (like ``shipper parse --tz``)
            cfg.inputs = [i if i.timezone else i.model_copy(update={"timezone": tz}) for i in cfg.inputs]
    except ValueError as exc:
        from pydantic import ValidationError

        from cronwatch.config import validation_problems

        if isinstance(exc, ValidationError):
            raise ConfigError([p.replace("<config>", "command line") for p in validation_problems(exc, None)]) from None
        raise
    return cfg


@contextlib.contextmanager
def embedded_store(enabled: bool, cfg: Any) -> Iterator[None]:
    """Start osmem-server for ``--embedded`` and point the sink at it."""
    if not enabled:
        yield
        return
    from cronwatch.testing.services import start_osmem

    Path(cfg.state_dir).mkdir(parents=True, exist_ok=True)
    proc = start_osmem(log=Path(cfg.state_dir) / "osmem.log")
    cfg.sink.hosts = [proc.url]
    click.echo(f"embedded store (osmem-server) at {proc.url}", err=True)
    try:
        yield
    finally:
        proc.stop()


def _serve_metrics(listen: str | None, registry: Any) -> Any:
    if not listen:
        return None
    from cronwatch.errors import ConfigError
    from cronwatch.metrics import parse_listen, serve_metrics

    try:
        host, port = parse_listen(listen, 9465)
        server, _thread = serve_metrics(host, port, registry)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"--listen {listen}: cannot serve metrics there: {exc}") from None
    log.info("metrics served", extra={"url.full": f"http://{host}:{port}/metrics"})
    return server


@click.command("run")
@_common
@click.option("--path", "paths", multiple=True, help="Glob of files to tail (repeatable; ** allowed).")
@click.option("--listen", default=None, help="HOST:PORT for the shipper's own /metrics.")
def run_cmd(config_path: str | None, hosts: str | None, index_prefix: str | None, tz: str | None,
            state: str | None, embedded: bool, paths: tuple[str, ...], listen: str | None) -> None:
    """Tail the inputs into daily indices until SIGTERM (then flush, checkpoint and exit)."""
    from cronwatch.errors import ConfigError
    from shipper.app import open_pipeline, tune_gc
    from shipper.logmetrics import ShipperMetrics
    from shipper.sink.service import redact_url

    cfg = load(config_path, hosts=hosts, index_prefix=index_prefix, tz=tz, state=state, paths=paths)
    if not cfg.inputs:
        raise ConfigError("no inputs: give --path GLOB or list inputs in the configuration file")
    metrics = ShipperMetrics(max_tasks=cfg.max_task_labels)
    server = _serve_metrics(listen or cfg.listen, metrics.registry)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        running = False

        def on_signal() -> None:
            if running:
                stop.set()
            elif task is not None:
                task.cancel()  # still waiting for the store at start-up: nothing read, nothing to flush

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        try:
            async with open_pipeline(cfg, metrics=metrics) as pipeline:
                running = True
                tune_gc()
                log.info("shipper started", extra={"inputs": [i.paths for i in cfg.inputs],
                                                   "hosts": [redact_url(h) for h in cfg.sink.hosts]})
                stats = await pipeline.run(stop)
        except asyncio.CancelledError:
            log.info("shipper stopped before the store could be reached")
            return
        log.info("shipper stopped", extra={"lines": stats.lines, "indexed": stats.indexed, "dead_lettered": stats.dead})

    try:
        with embedded_store(embedded, cfg):
            asyncio.run(main())
    finally:
        if server is not None:
            server.shutdown()


@click.command("backfill")
@_common
@click.argument("files", nargs=-1, required=True)
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
def backfill_cmd(config_path: str | None, hosts: str | None, index_prefix: str | None, tz: str | None,
                 state: str | None, embedded: bool, files: tuple[str, ...], progress: bool | None) -> None:
    """Ship existing FILES (paths or globs) once, to their end, then exit; safe to re-run."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from shipper.app import open_pipeline, tune_gc

    cfg = load(config_path, hosts=hosts, index_prefix=index_prefix, tz=tz, state=state, paths=files)
    console = Console(stderr=True)
    show = console.is_terminal if progress is None else progress
    state_dir = Path(cfg.state_dir) / "backfill"

    async def main() -> Any:
        async with open_pipeline(cfg, state_dir=state_dir) as pipeline:
            tune_gc()
            await pipeline.prepare()
            total = pipeline.total_bytes()
            started = time.monotonic()
            lines = 0
            with Progress(TextColumn("[bold]backfill"), BarColumn(), DownloadColumn(),
                          TextColumn("{task.fields[rate]} lines/s"), TimeRemainingColumn(),
                          console=console, disable=not show, transient=False) as bar:
                task = bar.add_task("backfill", total=total or None, rate="0")

                def on_progress(nbytes: int, nlines: int) -> None:
                    nonlocal lines
                    lines += nlines
                    elapsed = max(time.monotonic() - started, 1e-6)
                    bar.update(task, advance=nbytes, rate=f"{lines / elapsed:,.0f}")

                pipeline.on_progress = on_progress
                stats = await pipeline.backfill()
            return stats

    with embedded_store(embedded, cfg):
        stats = asyncio.run(main())
    click.echo(f"backfill done: {stats.lines} lines, {stats.events} events, {stats.indexed} indexed, "
               f"{stats.filtered} filtered, {stats.dead} dead-lettered", err=True)


@click.command("check")
@_common
def check_cmd(config_path: str | None, hosts: str | None, index_prefix: str | None, tz: str | None,
              state: str | None, embedded: bool) -> None:
    """Validate the configuration, compile the patterns and test the store connection."""
    from shipper.app import compile_parsers, make_service, prefixes
    from shipper.sink.errors import SinkError
    from shipper.sink.service import redact_url
    from shipper.tail.checkpoint import CheckpointStore
    from shipper.tail.discovery import expand

    cfg = load(config_path, hosts=hosts, index_prefix=index_prefix, tz=tz, state=state)
    click.echo(f"ok   configuration ({config_path or 'defaults'})")
    states = CheckpointStore(cfg.state_dir).load()
    click.echo(f"ok   state directory {cfg.state_dir}: {len(states)} file(s) checkpointed")
    compile_parsers(cfg.inputs)
    click.echo(f"ok   {len(cfg.inputs)} input(s): patterns compile")
    for i, inp in enumerate(cfg.inputs):
        n = len(expand(inp.paths, inp.exclude))
        click.echo(f"{'ok  ' if n else 'warn'} inputs[{i}]: {n} file(s) match {', '.join(inp.paths)}")

    async def probe() -> str:
        service = make_service(cfg)
        try:
            dist = await service.info()
            hosts = ", ".join(redact_url(h) for h in cfg.sink.hosts)
            return f"{dist} at {hosts}; index prefixes {', '.join(prefixes(cfg))}"
        finally:
            await service.close()

    with embedded_store(embedded, cfg):
        try:
            what = asyncio.run(probe())
        except SinkError as exc:
            click.echo(f"fail store: {exc}", err=True)
            sys.exit(1)
    click.echo(f"ok   store: {what}")
