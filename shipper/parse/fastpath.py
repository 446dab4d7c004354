"""One generated ``document`` function per input: dispatch, grok matching and document building fused.

``compile_document`` writes, once at start-up, straight-line Python code equivalent to
:meth:`Parser._document_generic` for the ``auto`` and ``grok`` codecs: the JSON / logfmt check, then
each compiled grok expression in order and, for a pattern whose captures are plain named groups
(no type conversion, no repeated field), the document built inline from ``match.groups()``,
putting each value where :meth:`DocumentBuilder.build` would. Checks the generator can decide
(a contract name no earlier capture can have set, a static field that is not configured) are
left out of the code. A pattern that can only match lines starting with certain characters
(:func:`first_chars`, from the parsed expression) is not called for a line starting otherwise.
Field names are always quoted with ``repr``: never evaluated.

``compile_plain_run`` writes the decoder's batch loop (``LineDecoder.feed_many``) over the lines
that take its one-line fast path, with the same document code inlined in the loop body. Where the
C extension ``shipper._speedups`` is built (``setup.py``), that loop is its ``PlainRun``
instead: :func:`plan_for` turns each pattern's captures into its operations, with the decisions
:func:`_build_code` makes, and every line it does not handle itself goes to the generated
``document`` function, so both give the same events. ``CRONWATCH_NO_EXTENSIONS=1`` keeps to Python.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from typing import Any

from cronwatch.jsonlog import format_ts
from shipper.compiled import speedups
from shipper.errors import GrokTimeout
from shipper.model import Event, RawLine
from shipper.parse import codecs
from shipper.parse import normalize as nz
from shipper.parse.document import (
    DURATION,
    HOST,
    KNOWN,
    LEVEL,
    MSG,
    NESTED_ROOTS,
    SERVICE,
    STR,
    TASK,
    TRACE,
    TS,
    TS_RANK,
    DocumentBuilder,
)
from shipper.parse.grok import Grok

# (text, path, offset, read_time, stack, tags, task) -> doc
DocumentFn = Callable[[str, str, int, float, "list[str] | None", "list[str] | None", "str | None"], dict[str, Any]]

_SIGNATURE = "def document(text, path, offset, read_time, stack, tags, task):"
_STACK_TARGETS = ("log.level", "error.stack_trace", "error.type", "error.message")


def can_inline(grok: Grok) -> bool:
    """Whether a pattern's document can be built inline (plain named captures, no repeated field)."""
    return grok.fast and len(set(grok.field_names)) == len(grok.field_names)


def compile_document(codec: str, groks: Sequence[Grok], builder: DocumentBuilder,
                     failure_tag: str | None) -> DocumentFn:
    """The fused ``document`` function for ``codec`` ``auto`` or ``grok`` over ``groks`` (tried in order).

    ``failure_tag``: the tag of a line no pattern matches (None: no tag)."""
    namespace = _namespace(groks, builder)
    body = [_SIGNATURE, *_indent(_document_code(codec, groks, builder, failure_tag), 1), "    return doc"]
    exec(compile("\n".join(body), "<cronwatch document>", "exec"), namespace)  # noqa: S102 - our code, names repr()'d
    fn: DocumentFn = namespace["document"]
    return fn


# (lines, i, first, end, out, path, source, task) -> (i, first, end, last document or None)
PlainRunFn = Callable[[Sequence[RawLine], int, RawLine, int, list[Event], str, str, "str | None"],
                      tuple[int, RawLine, int, "dict[str, Any] | None"]]

_RUN_SIGNATURE = "def plain_run(lines, i, first, end, out, path, source, task):"
_RUN_HEAD = [
    "    n = len(lines)",
    "    append = out.append",
    "    stack = tags = doc = None",
    "    while i < n:",
    "        line = lines[i]",
    "        new_text = line.text",
    "        if new_text[:1] not in STARTS or len(new_text) > SAFE_LEN:",
    "            break",
    "        text = first.text",
    "        offset = first.offset",
    "        read_time = first.read_time",
]
_RUN_TAIL = [
    # Event(doc, offset, end, meta) without the call of its __init__ (shipper/compiled.py checks its fields)
    "        event = new_event(Event)",
    "        event.doc = doc",
    "        event.offset = offset",
    "        event.end = end",
    "        event.meta = {'raw': text, 'source': source, 'read_time': read_time}",
    "        append(event)",
    "        first = line",
    "        end = line.end",
    "        i += 1",
    "    return i, first, end, doc",
]


def compile_plain_run(codec: str, groks: Sequence[Grok], builder: DocumentBuilder, failure_tag: str | None,
                      document: DocumentFn, starts: frozenset[str], safe_len: int,
                      compiled: bool = True) -> PlainRunFn:
    """The decoder's one-line fast path over a batch, with the ``document`` code inlined.

    ``plain_run`` completes the pending one-line record ``first`` (whose span ends at ``end``)
    with each next line of ``lines`` from ``i`` on that surely starts a new one-line record (its
    first character in ``starts``, at most ``safe_len`` characters long) — what
    :meth:`LineDecoder.feed` does for such a line — appending the events to ``out``; it stops at
    the first line that needs the general path and returns that line's index, the pending record,
    its end and the last document built (None if none). ``codec`` other than ``auto``/``grok``:
    the loop calls ``document`` (the generic path). ``compiled``: the C extension's loop when it is
    there (for ``auto``/``grok`` without a risky pattern, whose time budget is Python's)."""
    if not starts.isdisjoint("pf"):
        raise ValueError("plain_run's lines must not start with 'p' or 'f' (a panic / fatal error)")
    ext = speedups() if compiled and codec in ("auto", "grok") and not any(g.risky for g in groks) else None
    if ext is not None:
        fast: PlainRunFn = ext.PlainRun(*_extension_args(codec, groks, builder, document, starts, safe_len))
        return fast
    namespace = _namespace(groks, builder)
    namespace.update({"STARTS": starts, "SAFE_LEN": safe_len, "Event": Event, "new_event": Event.__new__,
                      "document": document})
    if codec in ("auto", "grok"):
        code = _document_code(codec, groks, builder, failure_tag, plain=True)
    else:
        code = ["doc = document(text, path, offset, read_time, None, None, task)"]
    body = [_RUN_SIGNATURE, *_RUN_HEAD, *_indent(code, 2), *_RUN_TAIL]
    exec(compile("\n".join(body), "<cronwatch plain_run>", "exec"), namespace)  # noqa: S102 - as above
    fn: PlainRunFn = namespace["plain_run"]
    return fn


# PlainRun's operations on a capture (shipper/_speedups.c)
OP_SKIP, OP_LEVEL, OP_STR, OP_NONEMPTY, OP_DURATION, OP_EXTRA, OP_FALLBACK = range(7)
# the finish's lookups a pattern needs (its contract name may be set by then)
CHECK_TRACE, CHECK_TASK, CHECK_HOST = 1, 2, 4
# (operations, one per capture: (op, field, contract name, unit, whether the name may be set already);
#  time stamp captures by rank: (index, field); whether status / priority may set the level; CHECK_*)
Plan = tuple[tuple[tuple[int, str, "str | None", Any, bool], ...], tuple[tuple[int, str], ...], bool, int]


def plan_for(grok: Grok, builder: DocumentBuilder) -> Plan | None:
    """What PlainRun does with each capture of ``grok``: the decisions of :func:`_build_code` and
    :func:`_finish_code`, with the same ``maybe`` set (the contract names that may be in the
    document at each point; a name outside it is not looked up). A field :func:`_build_code` hands
    to ``take`` is OP_FALLBACK: such a line goes to the ``document`` function. None: a pattern
    whose document is not built inline (every match goes to ``document``)."""
    if not can_inline(grok):
        return None
    fields = grok.field_names
    ops: list[tuple[int, str, str | None, Any, bool]] = []
    maybe = {"@timestamp"}
    for field in fields:
        known = KNOWN.get(field)
        slot = known[0] if known else None
        if slot == TS:
            ops.append((OP_SKIP, field, None, None, False))
        elif slot == MSG:
            ops.append((OP_STR, field, "message", None, "message" in maybe))  # (a message is a str, as it is)
            maybe.add("message")
        elif slot == LEVEL:
            ops.append((OP_LEVEL, field, "log.level", None, "log.level" in maybe))
            maybe.add("log.level")
        elif known is not None and slot in (STR, TASK, HOST, SERVICE):
            ops.append((OP_STR if slot == STR else OP_NONEMPTY, field, known[1], None, known[1] in maybe))
            maybe.add(known[1])
        elif slot == DURATION and "event.duration" not in maybe:
            ops.append((OP_DURATION, field, "event.duration", nz.DURATION_FIELDS[field], False))
            maybe.add("event.duration")
        elif known is None and field not in NESTED_ROOTS:
            ops.append((OP_EXTRA, field, None, None, False))
        else:
            ops.append((OP_FALLBACK, field, None, None, True))
            if known is not None:
                maybe.add(known[1])
                if slot == TRACE:
                    maybe.add("span.id")
    checks = CHECK_TRACE if "trace.id" in maybe else 0
    maybe |= {"message", "trace.id", "span.id"}
    if "status" in fields or "priority" in fields:
        maybe.add("log.level")
    checks |= CHECK_TASK if "task.name" in maybe else 0
    maybe |= {"task.name", *_STACK_TARGETS, *builder.static_top}
    checks |= CHECK_HOST if "host.name" in maybe else 0
    ts = tuple((i, f) for _rank, i, f in sorted((TS_RANK[f], i, f) for i, f in enumerate(fields) if f in TS_RANK))
    return tuple(ops), ts, "status" in fields or "priority" in fields, checks


def _ascii_table(chars: frozenset[str]) -> bytes:
    return bytes(1 if chr(c) in chars else 0 for c in range(128))


def _extension_args(codec: str, groks: Sequence[Grok], builder: DocumentBuilder, document: DocumentFn,
                    starts: frozenset[str], safe_len: int) -> tuple[Any, ...]:
    """The arguments of ``_speedups.PlainRun`` (see shipper/_speedups.c) for this input."""
    patterns = []
    for grok in groks:
        first = first_chars(grok)
        table = other = None
        digit = False
        if first is not None:
            table = _ascii_table(first[0])
            other = frozenset(c for c in first[0] if ord(c) >= 128) or None
            digit = first[1] or not first[0]  # (no character known: the generated check is isdecimal())
        patterns.append((grok.matcher, table, other, digit, plan_for(grok, builder)))
    ts = builder.timestamps
    return (_ascii_table(starts), safe_len, document, codec == "auto", codecs.LOGFMT_START.match, tuple(patterns),
            tuple(builder.static_top.items()), builder.host or None, builder.labels or None,
            tuple(builder.static_extra.items()), nz.LEVELS, ts.fast_seconds, ts.parse, format_ts, nz.ids_at,
            nz.duration_ns, nz.SYSLOG_SEVERITY, Event, RawLine, re.Match.groups)


_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

# what a pattern's first character can be: (characters, or any decimal digit too); None: anything
FirstChars = tuple[frozenset[str], bool]
_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT)
_ZERO_WIDTH = (_c.AT, _c.ASSERT, _c.ASSERT_NOT)


def first_chars(grok: Grok) -> FirstChars | None:
    """The characters a line must start with for ``grok`` to match it, or None when that is not
    known (search, not match; a pattern that may match an empty string; case-insensitive letters,
    classes such as ``\\w``, ``.``, ...). Over-approximates: a line whose first character is not
    among them surely does not match, so the generated code skips the call."""
    if grok.risky or not grok.anchored:
        return None
    try:
        parsed: Any = _parser.parse(grok.expression, grok.rx.flags)
    except Exception:
        return None
    if parsed.state.flags & _c.SRE_FLAG_IGNORECASE:
        return None
    found = _first_of(list(parsed))
    if found is None or found[2]:  # unknown, or the pattern may match without a character
        return None
    return frozenset(found[0]), found[1]


def _first_of(items: list[Any]) -> tuple[set[str], bool, bool] | None:
    """(first characters, any digit, may match empty) of a sequence of parsed items."""
    chars: set[str] = set()
    digit = False
    for op, av in items:
        found = _first_item(op, av)
        if found is None:
            return None
        chars |= found[0]
        digit = digit or found[1]
        if not found[2]:
            return chars, digit, False
    return chars, digit, True


def _first_item(op: Any, av: Any) -> tuple[set[str], bool, bool] | None:
    if op == _c.LITERAL:
        return {chr(av)}, False, False
    if op == _c.IN:
        chars: set[str] = set()
        digit = False
        for iop, iav in av:
            if iop == _c.LITERAL:
                chars.add(chr(iav))
            elif iop == _c.RANGE and iav[1] - iav[0] <= 256:
                chars.update(map(chr, range(iav[0], iav[1] + 1)))
            elif iop == _c.CATEGORY and iav == _c.CATEGORY_DIGIT:
                digit = True  # \d: str.isdecimal() (Unicode), a superset of it with re.ASCII
            else:
                return None
        return chars, digit, False
    if op in _ZERO_WIDTH:  # consumes nothing: what follows gives the first character
        return set(), False, True
    if op == _c.SUBPATTERN:
        if av[1] & _c.SRE_FLAG_IGNORECASE:
            return None
        return _first_of(list(av[3]))
    if op == _c.ATOMIC_GROUP:
        return _first_of(list(av))
    if op == _c.BRANCH:
        chars = set()
        digit = nullable = False
        for alt in av[1]:
            found = _first_of(list(alt))
            if found is None:
                return None
            chars |= found[0]
            digit = digit or found[1]
            nullable = nullable or found[2]
        return chars, digit, nullable
    if op in _REPEATS:
        found = _first_of(list(av[2]))
        if found is None:
            return None
        return found[0], found[1], found[2] or av[0] == 0
    return None


def _indent(code: list[str], levels: int) -> list[str]:
    pad = "    " * levels
    return [pad + line for line in code]


def _namespace(groks: Sequence[Grok], builder: DocumentBuilder) -> dict[str, Any]:
    namespace: dict[str, Any] = {
        "decode_json": codecs.decode_json,
        "decode_logfmt": codecs.decode_logfmt,
        "logfmt_start": codecs.LOGFMT_START.match,
        "build": builder.build,
        "GrokTimeout": GrokTimeout,
        "levels_get": nz.LEVELS.get,
        "take": builder._take,
        "ts_parse": builder.timestamps.parse,
        "fast_seconds": builder.timestamps.fast_seconds.get,
        "format_ts": format_ts,
        "ids_at": nz.ids_at,
        "duration_ns": nz.duration_ns,
        "severity": nz.SYSLOG_SEVERITY,
        "stack_fn": builder._stack,
        "HOST": builder.host,
        "STATIC_TOP": tuple(builder.static_top.items()),
        "STATIC_EXTRA": tuple(builder.static_extra.items()),
        "LABELS": builder.labels,
    }
    for i, grok in enumerate(groks):
        namespace[f"match{i}"] = grok.matcher
        namespace[f"grok{i}"] = grok
        first = first_chars(grok)
        if first is not None:
            namespace[f"FIRST{i}"] = first[0]
    return namespace


def _document_code(codec: str, groks: Sequence[Grok], builder: DocumentBuilder, failure_tag: str | None,
                   plain: bool = False) -> list[str]:
    """Code that sets ``doc`` to the document of ``text`` (with ``path``, ``offset``, ``read_time``,
    ``stack``, ``tags``, ``task`` as :meth:`Parser.document_generic` takes them): straight-line,
    no ``return``, so it can be the body of a function or of a loop."""
    code: list[str] = []
    pad = ""
    if codec == "auto":
        code += [
            "doc = None",
            "c = text[:1]",
            "if c == '{':",
            "    obj = decode_json(text)",
            "    if obj is not None:",
            "        doc = build(obj, text, path, offset, read_time, None, stack, tags, task, False)",
            "elif c.isalpha() and logfmt_start(text):",
            "    kv = decode_logfmt(text)",
            "    if kv is not None and len(kv) >= 2:",
            "        doc = build(kv, text, path, offset, read_time, None, stack, tags, task, False)",
            "if doc is None:",
        ]
        pad = "    "
    risky = any(g.risky for g in groks)
    if risky:
        code.append(pad + "try:")
        pad += "    "
    firsts = [first_chars(grok) for grok in groks]
    if any(firsts):
        code.append(pad + "c0 = text[:1]")
    for i, grok in enumerate(groks):
        first = firsts[i]
        check = ""  # skips the call when the line's first character cannot start a match
        if first is not None:
            chars, digit = first
            check = (f"(c0 in FIRST{i} or c0.isdecimal()) and " if chars and digit else
                     f"c0 in FIRST{i} and " if chars else "c0.isdecimal() and ")
        code.append(f"{pad}{'if' if i == 0 else 'elif'} {check}(m := match{i}(text)) is not None:")
        if can_inline(grok):
            code += _indent(_build_code(grok.field_names, builder, plain), len(pad) // 4 + 1)
        else:
            code.append(f"{pad}    doc = build(grok{i}.fields_of(m), text, path, offset, read_time, None, stack, "
                        "tags, task, True)")
    # (``tags`` is never rebound: in a loop it stays the same for the next line)
    fallback = [f"doc = build(None, text, path, offset, read_time, None, stack, [*tags, {failure_tag!r}] if tags "
                f"else [{failure_tag!r}], task, True)" if failure_tag is not None
                else "doc = build(None, text, path, offset, read_time, None, stack, tags, task, True)"]
    if groks:
        code.append(pad + "else:")
        code += _indent(fallback, len(pad) // 4 + 1)
    else:
        code += _indent(fallback, len(pad) // 4)
    if risky:
        pad = pad[:-4]
        code += [
            pad + "except GrokTimeout:",  # the line gives up: no later pattern is tried
            pad + "    doc = build(None, text, path, offset, read_time, None, stack, "
                  "[*tags, '_groktimeout'] if tags else ['_groktimeout'], task, True)",
        ]
    return code


def _build_code(fields: list[str], builder: DocumentBuilder, plain: bool) -> list[str]:
    """:meth:`DocumentBuilder.build` unrolled for these captures (``m``: the match; ``text``: the line).

    The time stamp is converted first so the document starts as ``{'@timestamp': ts}``; what a
    failed conversion adds (tag, original under ``extra``) is added where the generic path does.
    ``plain``: for ``plain_run`` (no ``stack``, no ``tags``, a line that cannot start with "p"/"f")."""
    names = [f"v{i}" for i in range(len(fields))]
    code = [f"{', '.join(names)}{',' if len(names) == 1 else ''} = m.groups()" if names else "pass"]
    ts_fields = sorted((TS_RANK[f], v, f) for v, f in zip(names, fields, strict=True) if f in TS_RANK)
    if len(ts_fields) == 1:
        _rank, ts_var, ts_field = ts_fields[0]
        code += [f"ts_raw = {ts_var}", f"ts_key = {ts_field!r}"]
    elif ts_fields:
        code += ["ts_raw = None", "ts_key = '@timestamp'"]
        for _rank, var, field in ts_fields:  # "@timestamp" beats "time" beats ... "date"
            code += [f"if ts_raw is None and {var} is not None:", f"    ts_raw, ts_key = {var}, {field!r}"]
    if ts_fields:
        code += [
            "ts = None",
            "if ts_raw is not None:",
            # the timestamp parser's own fast path, inlined: a second already seen, written the same
            # way; its keys end in the seconds' digits, so a text with a 3-digit fraction is looked up
            # by the text before the fraction, any other text as it is
            # (every branch gives what ts_parse gives, so the order of the lookups does not matter)
            "    second = fast_seconds(ts_raw[:-4])",
            "    if second is not None and ts_raw[-4] in '.,' and (ms := ts_raw[-3:]).isdigit():",
            "        ts = f'{second}.{ms}Z'",
            "    else:",
            "        second = fast_seconds(ts_raw)",
            "        ts = ts_parse(ts_raw, read_time) if second is None else second + '.000Z'",
        ]
    head = code
    code = ["doc = {'@timestamp': ts}" if ts_fields else "doc = {'@timestamp': None}"]
    # a list only when a tag is added
    code += ["extra = {}", "tag_list = None" if plain else "tag_list = list(tags) if tags else None"]
    maybe = {"@timestamp"}  # contract names that may be in ``doc`` at this point of the code
    for var, field in zip(names, fields, strict=True):
        key = repr(field)
        known = KNOWN.get(field)
        slot = known[0] if known else None
        if slot == TS:
            continue
        code.append(f"if {var} is not None:")
        if slot == MSG:
            if "message" in maybe:
                code += [f"    if 'message' in doc: extra[{key}] = {var}",
                         f"    else: doc['message'] = {var}"]
            else:
                code.append(f"    doc['message'] = {var}")
            maybe.add("message")
        elif slot == LEVEL:
            code.append(f"    lv = None if 'log.level' in doc else levels_get({var})" if "log.level" in maybe
                        else f"    lv = levels_get({var})")
            code += ["    if lv is None:",
                     "        if tag_list is None: tag_list = []",
                     f"        take({key}, {var}, doc, extra, tag_list)",
                     "    else:",
                     "        doc['log.level'] = lv"]
            maybe.add("log.level")
        elif known is not None and slot in (STR, TASK, HOST, SERVICE):  # a string goes to its name as it is
            target = repr(known[1])
            checks = ([f"not {var}"] if slot != STR else []) + ([f"{target} in doc"] if known[1] in maybe else [])
            if checks:
                code += [f"    if {' or '.join(checks)}: extra[{key}] = {var}",
                         f"    else: doc[{target}] = {var}"]
            else:
                code.append(f"    doc[{target}] = {var}")
            maybe.add(known[1])
        elif slot == DURATION and "event.duration" not in maybe:
            code += [f"    d = duration_ns({var}, {nz.DURATION_FIELDS[field]!r})",
                     f"    if d is None: extra[{key}] = {var}",
                     "    else: doc['event.duration'] = d"]
            maybe.add("event.duration")
        elif known is None and field not in NESTED_ROOTS:
            code.append(f"    extra[{key}] = {var}")
        else:  # a captured value is a string: take() puts it at its contract name or under extra
            code += ["    if tag_list is None: tag_list = []", f"    take({key}, {var}, doc, extra, tag_list)"]
            if known is not None:
                maybe.add(known[1])
                if slot == TRACE:
                    maybe.add("span.id")
    if len(ts_fields) > 1:  # the time stamps that lost, in rank order
        for _rank, var, field in ts_fields:
            code += [f"if {var} is not None and ts_key != {field!r}:", f"    extra[{field!r}] = {var}"]
    if ts_fields:
        code += ["if ts is None:",
                 "    if ts_raw is not None:",
                 "        if tag_list is None: tag_list = []",
                 "        tag_list.append('_dateparsefailure')",
                 "        extra[ts_key] = ts_raw",
                 "    doc['@timestamp'] = format_ts(read_time)"]
    else:
        code.append("doc['@timestamp'] = format_ts(read_time)")
    code += _finish_code(fields, builder, maybe, plain)
    return head + code


def _finish_code(fields: list[str], builder: DocumentBuilder, maybe: set[str], plain: bool) -> list[str]:
    """:meth:`DocumentBuilder.finish` unrolled for these captures and this input's settings."""
    code = (["message = doc.get('message')", "if not message:", "    message = doc['message'] = text"]
            if "message" in maybe else ["message = doc['message'] = text"])
    ids = [  # ids_in_text(message), with the usual case (no id) decided by the `in` operator alone
        "if 'race' in message or 'RACE' in message:",
        "    tid, sid = ids_at(message, message.find('race'))",
        "    if tid:",
        "        doc['trace.id'] = tid",
        "        if sid and 'span.id' not in doc:",
        "            doc['span.id'] = sid",
    ]
    code += ["if 'trace.id' not in doc:", *_indent(ids, 1)] if "trace.id" in maybe else ids
    maybe |= {"message", "trace.id", "span.id"}
    if "status" in fields or "priority" in fields:
        code += [
            "if extra and 'log.level' not in doc:",
            "    status = extra.get('status')",
            "    pri = extra.get('priority')",
            "    if isinstance(status, str) and len(status) == 3 and status.isdigit():",
            "        doc['log.level'] = 'error' if status[0] == '5' else 'warn' if status[0] == '4' else 'info'",
            "    elif isinstance(pri, str) and pri.isdigit():",
            "        doc['log.level'] = severity[int(pri) % 8]",
        ]
        maybe.add("log.level")
    code += ["if task and 'task.name' not in doc:" if "task.name" in maybe else "if task:",
             "    doc['task.name'] = task"]
    if not plain:  # plain_run: no stack, and its lines start with neither "p" nor "f" (decoder.STARTS)
        code += ["if stack or text[:1] in 'pf':", "    stack_fn(doc, extra, text, stack)"]
    maybe |= {"task.name", *_STACK_TARGETS}
    if builder.static_top:
        code += ["for key, value in STATIC_TOP:", "    doc.setdefault(key, value)"]
        maybe |= set(builder.static_top)
    if builder.host:
        code += ["if 'host.name' not in doc:", "    doc['host.name'] = HOST"] if "host.name" in maybe \
            else ["doc['host.name'] = HOST"]
    code += ["doc['log.file.path'] = path", "doc['log.offset'] = offset"]
    if builder.labels:
        code += ["labels = doc.get('labels')",
                 "doc['labels'] = {**labels, **LABELS} if labels else LABELS.copy()"]
    if builder.static_extra:
        code += ["for key, value in STATIC_EXTRA:", "    extra.setdefault(key, value)"]
    code += ["if extra:", "    doc['extra'] = extra", "if tag_list:", "    doc['tags'] = tag_list"]
    return code
