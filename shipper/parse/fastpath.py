"""One generated ``document`` function per input: dispatch, grok matching and document building fused.

``compile_document`` writes, once at start-up, straight-line Python code equivalent to
:meth:`Parser._document_generic` for the ``auto`` and ``grok`` codecs: the JSON / logfmt check, then
each compiled grok expression in order and, for a pattern whose captures are plain named groups
(no type conversion, no repeated field), the document built inline from ``match.groups()``,
putting each value where :meth:`DocumentBuilder.build` would. Checks the generator can decide
(a contract name no earlier capture can have set, a static field that is not configured) are
left out of the code. Field names are always quoted with ``repr``: never evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cronwatch.jsonlog import format_ts
from shipper.errors import GrokTimeout
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
    body = [_SIGNATURE]
    if codec == "auto":
        body += [
            "    c = text[:1]",
            "    if c == '{':",
            "        obj = decode_json(text)",
            "        if obj is not None:",
            "            return build(obj, text, path, offset, read_time, None, stack, tags, task, False)",
            "    elif c.isalpha() and logfmt_start(text):",
            "        kv = decode_logfmt(text)",
            "        if kv is not None and len(kv) >= 2:",
            "            return build(kv, text, path, offset, read_time, None, stack, tags, task, False)",
        ]
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
        "ids_in_text": nz.ids_in_text,
        "duration_ns": nz.duration_ns,
        "severity": nz.SYSLOG_SEVERITY,
        "stack_fn": builder._stack,
        "HOST": builder.host,
        "STATIC_TOP": tuple(builder.static_top.items()),
        "STATIC_EXTRA": tuple(builder.static_extra.items()),
        "LABELS": builder.labels,
    }
    risky = any(g.risky for g in groks)
    pad = "        " if risky else "    "
    if risky:
        body.append("    try:")
    for i, grok in enumerate(groks):
        namespace[f"match{i}"] = grok.matcher
        namespace[f"grok{i}"] = grok
        body += [f"{pad}m = match{i}(text)", f"{pad}if m is not None:"]
        if can_inline(grok):
            body += [pad + "    " + line for line in _build_code(grok.field_names, builder)]
        else:
            body.append(f"{pad}    return build(grok{i}.fields_of(m), text, path, offset, read_time, None, stack, "
                        "tags, task, True)")
    if risky:
        body += [
            "    except GrokTimeout:",  # the line gives up: no later pattern is tried
            "        tags = [*tags, '_groktimeout'] if tags else ['_groktimeout']",
            "        return build(None, text, path, offset, read_time, None, stack, tags, task, True)",
        ]
    if failure_tag is not None:
        body.append(f"    tags = [*tags, {failure_tag!r}] if tags else [{failure_tag!r}]")
    body.append("    return build(None, text, path, offset, read_time, None, stack, tags, task, True)")
    exec(compile("\n".join(body), "<cronwatch document>", "exec"), namespace)  # noqa: S102 - our code, names repr()'d
    fn: DocumentFn = namespace["document"]
    return fn


def _build_code(fields: list[str], builder: DocumentBuilder) -> list[str]:
    """:meth:`DocumentBuilder.build` unrolled for these captures (``m``: the match; ``text``: the line).

    The time stamp is converted first so the document starts as ``{'@timestamp': ts}``; what a
    failed conversion adds (tag, original under ``extra``) is added where the generic path does."""
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
            "    if len(ts_raw) > 4 and ts_raw[-4] in '.,':",
            "        second = fast_seconds(ts_raw[:-4])",
            "        if second is not None and ts_raw[-3:].isdigit():",
            "            ts = f'{second}.{ts_raw[-3:]}Z'",
            "    else:",
            "        second = fast_seconds(ts_raw)",
            "        if second is not None:",
            "            ts = second + '.000Z'",
            "    if ts is None:",
            "        ts = ts_parse(ts_raw, read_time)",
            "doc = {'@timestamp': ts}",
        ]
    else:
        code.append("doc = {'@timestamp': None}")
    code += ["extra = {}", "tag_list = list(tags) if tags else []"]
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
            code.append(f"    take({key}, {var}, doc, extra, tag_list)")
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
                 "        tag_list.append('_dateparsefailure')",
                 "        extra[ts_key] = ts_raw",
                 "    doc['@timestamp'] = format_ts(read_time)"]
    else:
        code.append("doc['@timestamp'] = format_ts(read_time)")
    code += _finish_code(fields, builder, maybe)
    code.append("return doc")
    return code


def _finish_code(fields: list[str], builder: DocumentBuilder, maybe: set[str]) -> list[str]:
    """:meth:`DocumentBuilder.finish` unrolled for these captures and this input's settings."""
    code = (["message = doc.get('message')", "if not message:", "    message = doc['message'] = text"]
            if "message" in maybe else ["message = doc['message'] = text"])
    code += [
        "if 'trace.id' not in doc and ('race' in message or 'RACE' in message):" if "trace.id" in maybe
        else "if 'race' in message or 'RACE' in message:",
        "    tid, sid = ids_in_text(message)",
        "    if tid:",
        "        doc['trace.id'] = tid",
        "        if sid and 'span.id' not in doc:",
        "            doc['span.id'] = sid",
    ]
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
             "    doc['task.name'] = task",
             "if stack or text[:1] in 'pf':",
             "    stack_fn(doc, extra, text, stack)"]
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
