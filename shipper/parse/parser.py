"""``compile_parser(cfg)`` → a ``Parser``: everything compiled once per input; ``decoder(path)`` per file."""

from __future__ import annotations

import functools
import re
import socket
from typing import Any

from shipper.errors import GrokTimeout
from shipper.model import Decoder
from shipper.parse import codecs
from shipper.parse.config import ParseConfig
from shipper.parse.document import DocumentBuilder
from shipper.parse.fastpath import DocumentFn, PlainRunFn, compile_document, compile_plain_run
from shipper.parse.formats import CW_FORMATS
from shipper.parse.grok import Grok, PatternLibrary, compile_all, compile_grok
from shipper.parse.timestamps import TimestampParser, local_zone


@functools.cache
def builtin_library() -> PatternLibrary:
    """Our pattern library, read once per process."""
    return PatternLibrary.builtin()


@functools.cache
def builtin_formats() -> tuple[Grok, ...]:
    """The zero-configuration formats, compiled once per process."""
    lib = builtin_library()
    return tuple(compile_grok(f"%{{{name}}}", lib, name) for name in CW_FORMATS)


@functools.cache
def _hostname() -> str:
    return socket.gethostname()


class Parser:
    """The compiled parse settings of one input; cheap ``decoder(path)`` per file."""

    def __init__(self, cfg: ParseConfig) -> None:
        self.cfg = cfg
        timeout = cfg.grok_timeout.total_seconds()
        if cfg.pattern_files or cfg.pattern_definitions:
            library = PatternLibrary()
            library.defs.update(builtin_library().defs)
            for path in cfg.pattern_files:
                library.add_file(path)
            for name, text in cfg.pattern_definitions.items():
                library.add(name, text, f"pattern_definitions.{name}")
        else:
            library = builtin_library()
        self.library = library
        self.user_groks = compile_all(cfg.patterns, library, "patterns", timeout)
        if cfg.pattern_definitions:  # a definition nobody uses must still be valid
            compile_all([f"%{{{n}}}" for n in cfg.pattern_definitions], library, "pattern_definitions", timeout)
        self.format_groks = builtin_formats()
        self.codec = cfg.codec
        self.timestamps = TimestampParser(cfg.timezone or local_zone())
        self.builder = DocumentBuilder(self.timestamps, cfg.host or _hostname(), cfg.labels, cfg.fields)
        self.task_rx = re.compile(cfg.task_from_path) if cfg.task_from_path else None
        ml = cfg.multiline
        self.start_rx = re.compile(ml.start_pattern) if ml.start_pattern is not None else None
        self.max_lines = ml.max_lines
        self.max_bytes = ml.max_bytes
        self.timeout = ml.timeout.total_seconds()
        self.max_line_bytes = cfg.max_line_bytes
        if self.codec == "grok" or (self.codec == "auto" and not self.user_groks):
            self.groks: tuple[Grok, ...] = tuple(self.user_groks) or self.format_groks
        elif self.codec == "auto":
            self.groks = (*self.user_groks, *self.format_groks)
        else:
            self.groks = ()
        self.n_user = len(self.user_groks)
        # the tag of a line no pattern matched: only when patterns were asked for (grok, or user patterns)
        self.failure_tag = failure_tag = "_grokparsefailure" if (self.codec == "grok" or self.n_user) else None
        self.safe_len = self.max_line_bytes // 4  # a line this short cannot exceed the byte limit
        # what decoders call: one function generated for this input (auto, grok), else the generic path
        self.document: DocumentFn = (
            compile_document(self.codec, self.groks, self.builder, failure_tag) if self.codec in ("auto", "grok")
            else self.document_generic)
        from shipper.parse.decoder import STARTS

        # what LineDecoder.feed_many runs over lines that take the one-line fast path
        self.plain_run: PlainRunFn = compile_plain_run(self.codec, self.groks, self.builder, failure_tag,
                                                       self.document, STARTS, self.safe_len)

    def task_for(self, path: str) -> str | None:
        """The task name the configured regex finds in ``path`` (None without one or no match)."""
        if self.task_rx is None:
            return None
        m = self.task_rx.search(path)
        return m.group("task") if m and m.group("task") else None

    def decoder(self, path: str, source: str | None = None) -> Decoder:
        """A fresh decoder for one file (``source``: the file identity, default ``path``)."""
        from shipper.parse.decoder import LineDecoder

        return LineDecoder(self, path, source)

    def document_generic(self, text: str, path: str, offset: int, read_time: float, stack: list[str] | None,
                         tags: list[str] | None, task: str | None) -> dict[str, Any]:
        """The ECS document of one record whose first line is ``text`` (``stack``: the lines after).

        The reference for :attr:`document` (generated for the ``auto`` and ``grok`` codecs, see
        ``fastpath.py``); used as is for the other codecs."""
        codec = self.codec
        build = self.builder.build
        if codec == "auto":
            c = text[:1]
            if c == "{":
                obj = codecs.decode_json(text)
                if obj is not None:
                    return build(obj, text, path, offset, read_time, None, stack, tags, task, False)
            elif c.isalpha() and codecs.LOGFMT_START.match(text):
                kv = codecs.decode_logfmt(text)
                if kv is not None and len(kv) >= 2:
                    return build(kv, text, path, offset, read_time, None, stack, tags, task, False)
        elif codec != "grok":
            fields, failure, from_text = self.decode(text)
            if failure is not None:
                tags = [*tags, failure] if tags else [failure]
            return build(fields, text, path, offset, read_time, None, stack, tags, task, from_text)
        try:
            for grok in self.groks:
                m = grok.matcher(text)
                if m is not None:
                    return build(grok.fields_of(m), text, path, offset, read_time, None, stack, tags, task, True)
        except GrokTimeout:
            tag: str | None = "_groktimeout"  # the line gives up: no later pattern is tried
        else:
            tag = self.failure_tag
        if tag is not None:
            tags = [*tags, tag] if tags else [tag]
        return build(None, text, path, offset, read_time, None, stack, tags, task, True)

    def decode(self, text: str) -> tuple[dict[str, Any] | None, str | None, bool]:
        """Fields of one line, a failure tag (or None), and whether the fields were captured from text."""
        codec = self.codec
        c = text[:1]
        if codec == "auto":
            if c == "{":
                obj = codecs.decode_json(text)
                if obj is not None:
                    return obj, None, False
            elif c.isalpha() and codecs.LOGFMT_START.match(text):
                kv = codecs.decode_logfmt(text)
                if kv is not None and len(kv) >= 2:
                    return kv, None, False
            return self._grok(text)
        if codec == "json":
            obj = codecs.decode_json(text)
            return (obj, None, False) if obj is not None else (None, "_jsonparsefailure", True)
        if codec == "logfmt":
            kv = codecs.decode_logfmt(text, strict=False)
            return (kv, None, False) if kv is not None else (None, "_logfmtparsefailure", True)
        if codec == "grok":
            return self._grok(text)
        return None, None, True

    def _grok(self, text: str) -> tuple[dict[str, Any] | None, str | None, bool]:
        try:
            for grok in self.groks:
                fields = grok.parse(text)
                if fields is not None:
                    return fields, None, True
        except GrokTimeout:
            return None, "_groktimeout", True
        return None, self.failure_tag, True


def compile_parser(cfg: ParseConfig) -> Parser:
    """Compile ``cfg`` once (bad grok patterns raise :class:`shipper.errors.PatternError` here)."""
    return Parser(cfg)


def make_decoder(cfg: ParseConfig, path: str, source: str | None = None) -> Decoder:
    """Shortcut: compile ``cfg`` and return a decoder for ``path`` (prefer one ``Parser`` per input)."""
    return compile_parser(cfg).decoder(path, source)
