"""``cronwatch shipper parse``: print the documents a file would become — also a grok debugger."""

from __future__ import annotations

import fnmatch
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click


def _lines(stream: IO[bytes], read_time: float) -> Iterator[Any]:
    from shipper.model import RawLine

    offset = 0
    for raw in stream:
        end = offset + len(raw)
        data = raw[:-1] if raw.endswith(b"\n") else raw
        if data.endswith(b"\r"):
            data = data[:-1]
        yield RawLine(data.decode("utf-8", "replace"), offset, end, read_time)
        offset = end


def _choose_input(inputs: list[Any], path: str) -> Any:
    absolute = os.path.abspath(path)
    for item in inputs:
        for pattern in getattr(item, "paths", []):
            if fnmatch.fnmatch(absolute, os.path.abspath(os.path.expanduser(pattern))) or fnmatch.fnmatch(path, pattern):
                return item
    return inputs[0]


@click.command("parse")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="shipper.yml (the input whose paths match the file is used) or a file of parse settings.")
@click.option("--tz", "tz", metavar="ZONE", help="IANA time zone of times written without one (default: the config's, else this machine's).")
@click.option("--pattern", "patterns", multiple=True, metavar="GROK",
              help="Grok pattern to try (repeatable, in order); lines that match none get _grokparsefailure.")
@click.option("--with-meta", is_flag=True, help='Print {"_index", "_id", "_source"} as the sink would index it.')
@click.option("--index-prefix", default=None, help="Index prefix for --with-meta (default: the config's, else cronwatch).")
@click.argument("files", nargs=-1, type=click.Path(allow_dash=True, dir_okay=False))
def parse(config_path: Path | None, tz: str | None, patterns: tuple[str, ...], with_meta: bool,
          index_prefix: str | None, files: tuple[str, ...]) -> None:
    """Print one JSON document per event of FILE (or stdin): exactly what would be indexed."""
    import orjson

    from cronwatch.config import load_config, read_yaml
    from cronwatch.errors import ConfigError
    from shipper import naming
    from shipper.parse import ParseConfig, compile_parser

    overrides: dict[str, Any] = {}
    if tz:
        overrides["timezone"] = tz
    if patterns:
        overrides["patterns"] = list(patterns)
        overrides["codec"] = "grok"

    inputs: list[Any] = []
    prefix = index_prefix
    index_tz = None
    if config_path is not None:
        doc = read_yaml(config_path)
        if isinstance(doc.data, dict) and ("inputs" in doc.data or "sink" in doc.data):
            from shipper.config import ShipperConfig

            shipper_cfg = load_config(config_path, ShipperConfig)
            inputs = list(shipper_cfg.inputs)
            prefix = prefix or shipper_cfg.sink.index_prefix
            index_tz = shipper_cfg.zone()
        else:
            inputs = [load_config(config_path, ParseConfig)]
    if not inputs:
        inputs = [ParseConfig()]
    prefix = prefix or "cronwatch"

    parsers: dict[int, Any] = {}

    def parser_for(path: str) -> Any:
        item = _choose_input(inputs, path)
        key = id(item)
        if key not in parsers:
            data = item.model_dump() if type(item) is ParseConfig else {
                k: getattr(item, k) for k in ParseConfig.model_fields}
            try:
                cfg = ParseConfig.model_validate({**data, **overrides})
            except Exception as exc:  # pydantic ValidationError from a flag
                raise ConfigError(f"--tz/--pattern: {exc}") from None
            parsers[key] = (compile_parser(cfg), getattr(item, "index_prefix", None))
        return parsers[key]

    out = sys.stdout.buffer
    read_time = time.time()
    for name in files or ("-",):
        parser, input_prefix = parser_for(name)
        if name == "-":
            path, source, stream = "-", "<stdin>", sys.stdin.buffer
        else:
            path = os.path.abspath(name)
            try:
                stream = open(path, "rb")
            except OSError as exc:
                raise click.ClickException(f"{name}: {exc.strerror}") from None
            source = naming.source_for_path(path) if hasattr(naming, "source_for_path") else path
        decoder = parser.decoder(path, source)
        try:
            events = (ev for line in _lines(stream, read_time) for ev in decoder.feed(line))
            for event in _chain(events, decoder):
                if with_meta:
                    record = {"_index": naming.index_name(event.doc, input_prefix or prefix,
                                                          index_tz if index_tz else None),
                              "_id": naming.doc_id(source, event.offset, event.meta["raw"]),
                              "_source": event.doc}
                    out.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
                else:
                    out.write(orjson.dumps(event.doc, option=orjson.OPT_APPEND_NEWLINE))
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
    out.flush()


def _chain(events: Iterator[Any], decoder: Any) -> Iterator[Any]:
    yield from events
    yield from decoder.flush()
