"""Grok: Logstash's ``%{SYNTAX:field:type}`` patterns compiled once into one Python regex each.

``PatternLibrary`` holds ``NAME regex`` definitions (our built-in files under ``patterns/``, the
user's pattern files, inline definitions — later ones win). ``compile_grok`` expands a pattern
recursively into a single expression: ``%{NAME:field}`` and ``(?<field>...)`` become named
groups, every other ``(`` becomes non-capturing (fewer captures, faster matches), and nested
field names (``[log][level]``) become dotted (``log.level``). Any problem — unknown pattern,
recursion, bad regex — is a :class:`PatternError` naming the pattern, where it was defined and the
position, raised at start-up.

Catastrophic backtracking: each compiled pattern is analysed (``risk.py``); an expression that
could backtrack badly (nested unbounded repeats, or two or more unbounded repeats that are not
delimited) runs on the ``regex`` engine with a per-line time budget, and a line that exceeds it
is tagged ``_groktimeout``. Safe expressions run on ``re`` at full speed.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import regex

from shipper.errors import GrokTimeout, PatternError
from shipper.parse.risk import is_anchored, is_risky

_NAME = re.compile(r"[A-Za-z0-9_]+")
_REF = re.compile(r"%\{(?P<name>[A-Za-z0-9_]+)(?::(?P<field>[^:}]*))?(?::(?P<type>[^}]*))?\}")
_NAMED = re.compile(r"\(\?P?<(?P<field>[^>=!][^>]*)>")
_CONVERTERS: dict[str, Callable[[str], Any]] = {"int": int, "float": float}


@dataclass(frozen=True, slots=True)
class Definition:
    """One ``NAME regex`` definition and where it came from (``file:line`` or a setting name)."""

    name: str
    text: str
    where: str


class PatternLibrary:
    """Named grok definitions; later additions replace earlier ones of the same name."""

    def __init__(self) -> None:
        self.defs: dict[str, Definition] = {}

    def add_text(self, text: str, origin: str) -> None:
        """Add every ``NAME regex`` line of a pattern file (``#`` comments and blank lines skipped)."""
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            where = f"{origin}:{lineno}"
            if not _NAME.fullmatch(parts[0]):
                raise PatternError(f"{where}: invalid pattern name {parts[0]!r} (use letters, digits, _)")
            if len(parts) == 1:
                raise PatternError(f"{where}: pattern {parts[0]} has no expression")
            self.defs[parts[0]] = Definition(parts[0], parts[1], where)

    def add_file(self, path: str | Path) -> None:
        """Add a user's pattern file; an unreadable file names itself."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PatternError(f"{path}: cannot read pattern file: {exc}") from None
        self.add_text(text, str(path))

    def add(self, name: str, text: str, where: str) -> None:
        """Add one inline definition."""
        if not _NAME.fullmatch(name):
            raise PatternError(f"{where}: invalid pattern name {name!r} (use letters, digits, _)")
        self.defs[name] = Definition(name, text, where)

    @classmethod
    def builtin(cls) -> PatternLibrary:
        """Our own pattern library (``shipper/parse/patterns/*.grok``)."""
        lib = cls()
        folder = resources.files("shipper.parse") / "patterns"
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".grok"):
                lib.add_text(entry.read_text(encoding="utf-8"), f"patterns/{entry.name}")
        return lib


def field_name(raw: str) -> str:
    """``[log][level]`` → ``log.level``; dotted and plain names stay as they are."""
    name = raw.strip()
    if name.startswith("["):
        parts = re.findall(r"\[([^\]]*)\]", name)
        if parts and "".join(f"[{p}]" for p in parts) == name:
            return ".".join(parts)
    return name


def _end_of_class(text: str, i: int) -> int:
    """Index just after the character class starting at ``text[i] == '['``."""
    j = i + 1
    n = len(text)
    if j < n and text[j] == "^":
        j += 1
    if j < n and text[j] == "]":
        j += 1
    while j < n and text[j] != "]":
        j += 2 if text[j] == "\\" else 1
    return min(j + 1, n)


def _placeholder(text: str) -> str:
    """``text`` with references and named captures replaced by same-length valid regex, so a
    ``re.error`` position points into the text as the user wrote it."""

    def ref(m: re.Match[str]) -> str:
        return "(?:" + "a" * (len(m.group(0)) - 4) + ")"

    def named(m: re.Match[str]) -> str:
        return "(?:" + "a" * (len(m.group(0)) - 3)

    return _NAMED.sub(named, _REF.sub(ref, text))


_BACKREF = re.compile(r"\\k<|\\g<|\(\?P=|\\[1-9]")


def _check_syntax(text: str, label: str) -> None:
    m = _BACKREF.search(text)
    if m is not None and (m.start() == 0 or text[m.start() - 1] != "\\"):
        raise PatternError(f"{label}: backreferences are not supported (position {m.start()})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            re.compile(_placeholder(text))
        except re.error as exc:
            pos = exc.pos if exc.pos is not None else 0
            raise PatternError(f"{label}: invalid regular expression at position {pos}: {exc.msg}") from None


@dataclass(slots=True)
class _Capture:
    group: str
    field: str
    convert: Callable[[str], Any] | None


class _Expander:
    """Expands one top-level pattern; collects its captures in order."""

    def __init__(self, library: PatternLibrary, label: str) -> None:
        self.library = library
        self.label = label
        self.captures: list[_Capture] = []
        self.used_groups: set[str] = set()
        self.checked: set[str] = set()

    def capture(self, raw_field: str, type_name: str | None, label: str, pos: int) -> str:
        fname = field_name(raw_field)
        if not fname:
            raise PatternError(f"{label}: empty field name at position {pos}")
        convert = None
        if type_name:
            convert = _CONVERTERS.get(type_name.strip())
            if convert is None:
                raise PatternError(f"{label}: unknown type {type_name!r} at position {pos} (use int or float)")
        if fname.isidentifier() and not fname.startswith("_g") and fname not in self.used_groups:
            group = fname
        else:
            group = f"_g{len(self.captures)}"
        self.used_groups.add(group)
        self.captures.append(_Capture(group, fname, convert))
        return group

    def expand(self, text: str, label: str, stack: tuple[str, ...]) -> str:
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c == "\\":
                if text.startswith(("\\k<", "\\g<"), i) or (i + 1 < n and text[i + 1].isdigit() and text[i + 1] != "0"):
                    raise PatternError(f"{label}: backreferences are not supported (position {i})")
                out.append(text[i : i + 2])
                i += 2
            elif c == "[":
                j = _end_of_class(text, i)
                out.append(text[i:j])
                i = j
            elif c == "%" and text.startswith("%{", i):
                m = _REF.match(text, i)
                if m is None:
                    raise PatternError(f"{label}: malformed %{{...}} reference at position {i}")
                out.append(self.reference(m, label, stack, i))
                i = m.end()
            elif c == "(":
                if text.startswith("(?P=", i):
                    raise PatternError(f"{label}: backreferences are not supported (position {i})")
                m = _NAMED.match(text, i)
                if m is not None:
                    out.append(f"(?P<{self.capture(m.group('field'), None, label, i)}>")
                    i = m.end()
                elif text.startswith("(?", i):
                    out.append("(?")
                    i += 2
                else:
                    out.append("(?:")
                    i += 1
            else:
                out.append(c)
                i += 1
        return "".join(out)

    def reference(self, m: re.Match[str], label: str, stack: tuple[str, ...], pos: int) -> str:
        name = m.group("name")
        definition = self.library.defs.get(name)
        if definition is None:
            raise PatternError(f"{label}: unknown grok pattern %{{{name}}} at position {pos}")
        if name in stack:
            cycle = " -> ".join((*stack[stack.index(name) :], name))
            raise PatternError(f"{definition.where}: pattern {name} refers to itself ({cycle})")
        if len(stack) > 64:
            raise PatternError(f"{label}: patterns nested too deeply at %{{{name}}}")
        def_label = f"{definition.where}: pattern {name}"
        if name not in self.checked:
            _check_syntax(definition.text, def_label)
            self.checked.add(name)
        body = self.expand(definition.text, def_label, (*stack, name))
        if m.group("field") is not None:
            group = self.capture(m.group("field"), m.group("type"), label, pos)
            return f"(?P<{group}>{body})"
        return f"(?:{body})"


class Grok:
    """One compiled grok pattern: ``parse(line)`` → the captured fields, or None."""

    def __init__(self, pattern: str, expression: str, captures: list[_Capture], timeout: float) -> None:
        self.pattern = pattern
        self.expression = expression
        self.risky = is_risky(expression)
        self.timeout = timeout
        self.anchored = is_anchored(expression)
        self.rx: Any = regex.compile(expression) if self.risky else re.compile(expression)
        # fast path: groupdict() already maps field names to strings
        self.fast = all(c.group == c.field and c.convert is None for c in captures)
        self.fields = tuple((c.group, c.field, c.convert) for c in captures)
        self.field_names = [c.field for c in captures]
        if self.risky:
            self.matcher: Callable[[str], Any] = self._match_with_budget
        else:
            self.matcher = self.rx.match if self.anchored else self.rx.search

    def _match_with_budget(self, line: str) -> Any:
        try:
            return (self.rx.match if self.anchored else self.rx.search)(line, timeout=self.timeout)
        except TimeoutError:
            raise GrokTimeout(self.pattern) from None

    def fields_of(self, m: Any) -> dict[str, Any]:
        """The fields of a match (None for groups that did not take part), converted as typed."""
        if self.fast:
            return m.groupdict()  # type: ignore[no-any-return]
        out: dict[str, Any] = {}
        for group, name, convert in self.fields:
            value = m.group(group)
            if value is None:
                out.setdefault(name, None)
                continue
            if convert is not None:
                try:
                    value = convert(value)
                except ValueError:
                    pass
            out[name] = value
        return out

    def parse(self, line: str) -> dict[str, Any] | None:
        """The fields of ``line`` (None values for groups that did not take part), or None.

        Raises :class:`GrokTimeout` when a risky pattern exceeds its time budget.
        """
        m = self.matcher(line)
        return None if m is None else self.fields_of(m)


def compile_grok(pattern: str, library: PatternLibrary, label: str = "pattern", timeout: float = 0.5) -> Grok:
    """Compile one grok pattern; errors name ``label`` (e.g. ``patterns[2]``) and the position."""
    where = f"{label} {pattern!r}"
    _check_syntax(pattern, where)
    expander = _Expander(library, where)
    expression = expander.expand(pattern, where, ())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            re.compile(expression)
        except re.error as exc:  # a definition that is fine alone but not in context
            raise PatternError(f"{where}: does not compile once expanded: {exc.msg}") from None
        except (OverflowError, RecursionError, AssertionError):
            raise PatternError(f"{where}: expression too large once expanded") from None
    return Grok(pattern, expression, expander.captures, timeout)


def compile_all(patterns: Iterable[str], library: PatternLibrary, label: str, timeout: float) -> list[Grok]:
    """Compile a list of patterns; every problem of every pattern is reported at once."""
    out: list[Grok] = []
    problems: list[str] = []
    for i, p in enumerate(patterns):
        try:
            out.append(compile_grok(p, library, f"{label}[{i}]", timeout))
        except PatternError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PatternError(problems)
    return out
