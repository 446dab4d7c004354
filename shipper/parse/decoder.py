"""``LineDecoder``: lines of one file → events; groups multi-line records (tracebacks, panics).

Without a configured start pattern these rules decide whether a line continues the pending
record:

- an indented line does (stack frames, wrapped messages);
- ``Traceback (most recent call last):`` opens a Python traceback that runs to its exception
  line (and through ``During handling ...`` / ``The above exception ...`` chains);
- a qualified exception name (``java.lang.IllegalStateException: ...``) opens a Java stack trace
  (``at ...``, ``Caused by:``, ``... N more``);
- ``panic:`` / ``fatal error:`` start a record of their own (level ``fatal``, the previous
  record's time); it and a ``goroutine N [...]:`` dump run until a line that starts a new record
  (a time stamp, a JSON object, logfmt);
- a blank line inside a stack continues it; outside one it makes no event (the pending record's
  span covers it, its text does not).

A record is cut at ``max_lines``/``max_bytes`` (the next lines form a new record; Logstash's tags
``multiline_codec_max_lines_reached`` / ``..._max_bytes_reached``), flushed when it has waited
longer than the timeout, and always at end of input.

``feed_many(lines)`` (what the tailer calls with the lines of one read) gives exactly the events
``feed`` gives line by line; runs of ordinary one-line records go through the parser's
``plain_run`` loop (generated, or compiled) instead of a call per line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from shipper.model import Event, RawLine

if TYPE_CHECKING:
    from shipper.parse.parser import Parser

NONE, PY, PY_AFTER, JAVA, GO = range(5)
_GOROUTINE = re.compile(r"goroutine \d+ \[")
_JAVA_EXC = re.compile(r"(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable)\b|Exception in thread \"")
_RECORD_START = re.compile(
    r"\{|\[?\d{4}[-/]\d\d[-/]\d\d|[A-Z][a-z]{2} [ \d]\d \d\d:|<\d{1,3}>|\[GIN|[A-Za-z_@][\w.@-]*=|"
    r"(?:panic|fatal error): |\[?(?i:trace|debug|info|warn(?:ing)?|error|fatal|critical)\b"
)
_MAYBE_CONT = frozenset(" \tTEg")  # first characters that may continue a record (with lowercase)
_PY_CHAIN = ("Traceback (", "During handling of the above exception", "The above exception was")
# ASCII first characters that surely start a record after a plain one (the complement of _MAYBE_CONT
# and lowercase); a line starting otherwise takes the general path
STARTS = frozenset(chr(i) for i in range(128) if chr(i) not in _MAYBE_CONT and not chr(i).islower())


class LineDecoder:
    """Turns the lines of one file into events (see the module docstring for multi-line rules)."""

    __slots__ = (
        "_builtin_rules",
        "_bytes",
        "_document",
        "_end",
        "_first",
        "_last_read",
        "_mode",
        "_more",
        "_plain",
        "_prev_ts",
        "_safe_len",
        "_tags",
        "parser",
        "path",
        "source",
        "task",
    )

    def __init__(self, parser: Parser, path: str, source: str | None = None) -> None:
        self.parser = parser
        self.path = path
        self.source = source or path
        self.task = parser.task_for(path)
        self._first: RawLine | None = None
        self._more: list[str] = []
        self._tags: list[str] = []
        self._end = 0
        self._last_read = 0.0
        self._bytes = 0
        self._mode = NONE
        self._prev_ts: str | None = None
        self._builtin_rules = parser.start_rx is None
        self._safe_len = parser.safe_len
        self._document = parser.document
        # the pending record is one ordinary line (built-in rules, no stack, tag or cut): a next
        # line that starts with a character of STARTS completes it without further checks
        self._plain = False

    # -- the Decoder protocol

    def feed(self, line: RawLine) -> list[Event]:
        """Take one line; return the events it completed (usually the previous record)."""
        text = line.text
        if self._plain and text[:1] in STARTS and len(text) <= self._safe_len:
            # the common case: an ordinary line after an ordinary one-line record; the new line
            # is again an ordinary pending record (it cannot open a stack: see STARTS)
            first = self._first
            assert first is not None
            ftext = first.text
            doc = self._document(ftext, self.path, first.offset, first.read_time, None, None, self.task)
            self._prev_ts = doc["@timestamp"]
            event = Event(doc, first.offset, self._end,
                          {"raw": ftext, "source": self.source, "read_time": first.read_time})
            self._first = line
            self._end = line.end
            self._last_read = line.read_time
            self._bytes = len(text)
            return [event]
        events = self._feed(line, text)
        first = self._first
        self._plain = (first is not None and self._mode == NONE and self._builtin_rules and not self._more
                       and not self._tags and first.text[:1] not in "pfgT")
        return events

    def feed_many(self, lines: Sequence[RawLine]) -> list[Event]:
        """Take consecutive lines; the same events as :meth:`feed` on each in turn, in order.

        Runs of lines that take :meth:`feed`'s one-line fast path go through the parser's
        ``plain_run`` (the same steps, the document code inlined or compiled, no call per line)."""
        events: list[Event] = []
        n = len(lines)
        i = 0
        feed = self.feed
        plain_run = self.parser.plain_run
        while i < n:
            if self._plain:
                first = self._first
                assert first is not None
                j, first, end, doc = plain_run(lines, i, first, self._end, events, self.path, self.source,
                                               self.task)
                if j != i:
                    assert doc is not None
                    self._prev_ts = doc["@timestamp"]
                    self._first = first
                    self._end = end
                    self._last_read = first.read_time
                    self._bytes = len(first.text)
                    i = j
                    if i == n:
                        break
            events += feed(lines[i])
            i += 1
        return events

    def _feed(self, line: RawLine, text: str) -> list[Event]:
        truncated = False
        if len(text) > self._safe_len:
            limit = self.parser.max_line_bytes
            data = text.encode("utf-8", "replace")
            if len(data) > limit:
                text = data[:limit].decode("utf-8", "ignore")
                line = RawLine(text, line.offset, line.end, line.read_time)
                truncated = True
        if self._first is None:
            if not text or text.isspace():
                return []
            self._start(line, text, truncated)
            return []
        c = text[:1]
        # the common case, decided without calls: an ordinary line after an ordinary one-line record
        if self._mode == NONE and self._builtin_rules and c and c not in _MAYBE_CONT and not c.islower():
            first = self._first
            ftext = first.text
            if self._more or self._tags or truncated or ftext[:1] in "pfgT":
                event = self._emit()
                self._start(line, text, truncated)
                return [event]
            doc = self._document(ftext, self.path, first.offset, first.read_time, None, None, self.task)
            self._prev_ts = doc["@timestamp"]
            event = Event(doc, first.offset, self._end,
                          {"raw": ftext, "source": self.source, "read_time": first.read_time})
            self._first = line  # the new pending record; it cannot open a stack (see _MAYBE_CONT)
            self._end = line.end
            self._last_read = line.read_time
            self._bytes = len(text)
            return [event]
        cont = self._continues(text)
        if cont is None or (not cont and (not text or text.isspace())):
            # a blank line outside a stack is no event of its own; the pending record's span covers
            # it (its text and id do not change), so the checkpoint can pass it
            self._end = line.end
            return []
        if not cont:
            event = self._emit()
            self._start(line, text, truncated)
            return [event]
        size = self._bytes + len(text) + 1
        if len(self._more) + 2 > self.parser.max_lines:
            self._tags.append("multiline_codec_max_lines_reached")
        elif size > self.parser.max_bytes:
            self._tags.append("multiline_codec_max_bytes_reached")
        else:
            self._more.append(text)
            if truncated:
                self._tags.append("_truncated")
            self._bytes = size
            self._end = line.end
            self._last_read = line.read_time
            return []
        mode = self._mode
        event = self._emit()
        self._start(line, text, truncated)
        self._mode = mode  # the cut record's remainder keeps its stack mode
        return [event]

    def flush(self, now: float | None = None) -> list[Event]:
        """Complete the pending record: always at end of input (``now`` None), else after its timeout."""
        if self._first is None:
            return []
        if now is not None and now - self._last_read < self.parser.timeout:
            return []
        self._plain = False
        return [self._emit()]

    def pending_offset(self) -> int | None:
        """Offset of the pending record's first line (the checkpoint must not pass it)."""
        return self._first.offset if self._first is not None else None

    # -- grouping

    def _start(self, line: RawLine, text: str, truncated: bool) -> None:
        self._first = line
        self._end = line.end
        self._last_read = line.read_time
        self._bytes = len(text)
        if truncated:
            self._tags = ["_truncated"]
        if text[:1] in "ptgfT" and self._builtin_rules:
            if text.startswith(("panic: ", "fatal error: ")) or _GOROUTINE.match(text):
                self._mode = GO
            elif text.startswith("Traceback ("):
                self._mode = PY

    def _continues(self, text: str) -> bool | None:
        """True: ``text`` continues the pending record; False: it starts a new one; None: drop it."""
        start_rx = self.parser.start_rx
        if start_rx is not None:
            return start_rx.search(text) is None
        mode = self._mode
        if not text or text.isspace():
            return None if mode == NONE else True
        c = text[0]
        if c == " " or c == "\t":
            return True
        if mode == NONE:
            if c == "T" and text.startswith("Traceback ("):
                self._mode = PY
                return True
            if (c.islower() or c == "E") and _JAVA_EXC.match(text):
                self._mode = JAVA
                return True
            if c == "g" and _GOROUTINE.match(text):
                self._mode = GO
                return True
            return False
        if mode == GO:
            return _RECORD_START.match(text) is None
        if mode == PY:
            if not text.startswith(_PY_CHAIN):
                self._mode = PY_AFTER  # the exception line ends the traceback
            return True
        if mode == PY_AFTER:
            if text.startswith(_PY_CHAIN):
                self._mode = PY
                return True
            return False
        # JAVA
        return text.startswith(("Caused by:", "Suppressed:", "...")) or _JAVA_EXC.match(text) is not None

    def _emit(self) -> Event:
        first = self._first
        assert first is not None
        parser = self.parser
        text = first.text
        more = self._more
        stack_head = text[:1] in "pfgT" and (
            text.startswith(("panic: ", "fatal error: ", "Traceback (")) or _GOROUTINE.match(text) is not None)
        if stack_head:
            doc = parser.builder.build(None, text, self.path, first.offset, first.read_time, self._prev_ts,
                                       more, self._tags, self.task, True)
        else:
            doc = parser.document(text, self.path, first.offset, first.read_time, more, self._tags, self.task)
        self._prev_ts = doc["@timestamp"]
        if more:
            raw = text + "\n" + "\n".join(more)
            self._more = []
        else:
            raw = text
        event = Event(doc, first.offset, self._end, {"raw": raw, "source": self.source, "read_time": first.read_time})
        self._first = None
        if self._tags:
            self._tags = []
        self._mode = NONE
        return event
