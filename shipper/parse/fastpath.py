"""Generated document builders for grok patterns: straight-line code instead of a loop per field.

For a pattern whose captures are plain named groups (no type conversion, no repeated field),
``compile_fast_builder`` writes a small Python function that unpacks the captured values and
puts each value where :meth:`DocumentBuilder.build` would — same result, fewer steps. The code
is generated from the field names only (always quoted with ``repr``), once, at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cronwatch.jsonlog import format_ts
from shipper.parse import normalize as nz
from shipper.parse.document import (
    HOST,
    KNOWN,
    LEVEL,
    MSG,
    NESTED_ROOTS,
    SERVICE,
    STR,
    TASK,
    TS,
    TS_RANK,
    DocumentBuilder,
)

FastBuilder = Callable[[tuple[Any, ...], str, str, int, float, "list[str] | None", "list[str] | None", "str | None"],
                       dict[str, Any]]


def compile_fast_builder(fields: list[str], builder: DocumentBuilder) -> FastBuilder:
    """A function ``(values, line, path, offset, read_time, stack, tags, task) -> doc`` for these captures
    (``values``: the captured strings in order, as ``match.groups()`` gives them)."""
    names = [f"v{i}" for i in range(len(fields))]
    body = [
        "def build(values, line, path, offset, read_time, stack, tags, task):",
        f"    {', '.join(names)}{',' if len(names) == 1 else ''} = values" if names else "    pass",
        "    doc = {'@timestamp': None}",
        "    extra = {}",
        "    tag_list = list(tags) if tags else []",
        "    ts_raw = None",
    ]
    ts_fields: list[tuple[int, str, str]] = []
    for var, field in zip(names, fields, strict=True):
        key = repr(field)
        known = KNOWN.get(field)
        slot = known[0] if known else None
        body.append(f"    if {var} is not None:")
        if slot == TS:  # chosen after the loop, by rank, as the generic path does
            ts_fields.append((TS_RANK[field], var, field))
            body.append("        pass")
        elif slot == MSG:
            body += [f"        if 'message' in doc: extra[{key}] = {var}",
                     f"        else: doc['message'] = {var}"]
        elif slot == LEVEL:
            body += ["        lv = None if 'log.level' in doc else levels_get(" + var + ")",
                     "        if lv is None:",
                     f"            take({key}, {var}, doc, extra, tag_list)",
                     "        else:",
                     "            doc['log.level'] = lv"]
        elif slot in (STR, TASK, HOST, SERVICE):  # a string goes to its contract name as it is
            target = repr(known[1]) if known else ""
            empty_check = f"not {var} or " if slot != STR else ""
            body += [f"        if {empty_check}{target} in doc: extra[{key}] = {var}",
                     f"        else: doc[{target}] = {var}"]
        elif slot is None and field not in NESTED_ROOTS:
            body.append(f"        extra[{key}] = {var}")
        else:
            body.append(f"        take({key}, {var}, doc, extra, tag_list)")
    body.append("    ts_key = '@timestamp'")
    for _rank, var, field in sorted(ts_fields):
        body += [f"    if {var} is not None:",
                 "        if ts_raw is None:",
                 f"            ts_raw, ts_key = {var}, {field!r}",
                 "        else:",
                 f"            extra[{field!r}] = {var}"]
    body += [
        "    ts = None",
        "    if ts_raw is not None:",
        # the timestamp parser's own fast path, inlined: a second already seen, with milliseconds
        "        second = fast_seconds(ts_raw)",
        "        if second is not None:",
        "            ts = second + '.000Z'",
        "        elif len(ts_raw) > 4 and ts_raw[-4] in '.,':",
        "            second = fast_seconds(ts_raw[:-4])",
        "            if second is not None and ts_raw[-3:].isdigit():",
        "                ts = second + '.' + ts_raw[-3:] + 'Z'",
        "        if ts is None:",
        "            ts = ts_parse(ts_raw, read_time)",
        "            if ts is None:",
        "                tag_list.append('_dateparsefailure')",
        "                extra[ts_key] = ts_raw",
        "    doc['@timestamp'] = ts if ts is not None else format_ts(read_time)",
    ]
    body += _finish_code(fields, builder)
    body.append("    return doc")
    namespace: dict[str, Any] = {
        "levels_get": nz.LEVELS.get,
        "take": builder._take,
        "ts_parse": builder.timestamps.parse,
        "fast_seconds": builder.timestamps.fast_seconds.get,
        "format_ts": format_ts,
        "ids_in_text": nz.ids_in_text,
        "severity": nz.SYSLOG_SEVERITY,
        "stack_fn": builder._stack,
        "HOST": builder.host,
        "STATIC_TOP": tuple(builder.static_top.items()),
        "STATIC_EXTRA": tuple(builder.static_extra.items()),
        "LABELS": builder.labels,
    }
    exec(compile("\n".join(body), "<grok fast builder>", "exec"), namespace)  # noqa: S102 - our own code, names repr()'d
    fn: FastBuilder = namespace["build"]
    return fn


def _finish_code(fields: list[str], builder: DocumentBuilder) -> list[str]:
    """:meth:`DocumentBuilder.finish` unrolled for these captures and this input's settings."""
    code = [
        "    message = doc.get('message')",
        "    if not message:",
        "        message = doc['message'] = line",
        "    if 'trace.id' not in doc and ('race' in message or 'RACE' in message):",
        "        tid, sid = ids_in_text(message)",
        "        if tid:",
        "            doc['trace.id'] = tid",
        "            if sid and 'span.id' not in doc:",
        "                doc['span.id'] = sid",
    ]
    if "status" in fields or "priority" in fields:
        code += [
            "    if extra and 'log.level' not in doc:",
            "        status = extra.get('status')",
            "        pri = extra.get('priority')",
            "        if isinstance(status, str) and len(status) == 3 and status.isdigit():",
            "            doc['log.level'] = 'error' if status[0] == '5' else 'warn' if status[0] == '4' else 'info'",
            "        elif isinstance(pri, str) and pri.isdigit():",
            "            doc['log.level'] = severity[int(pri) % 8]",
        ]
    code += [
        "    if task and 'task.name' not in doc:",
        "        doc['task.name'] = task",
        "    if stack or line[:1] in 'pf':",
        "        stack_fn(doc, extra, line, stack)",
    ]
    if builder.static_top:
        code += ["    for key, value in STATIC_TOP:", "        doc.setdefault(key, value)"]
    if builder.host:
        code += ["    if 'host.name' not in doc:", "        doc['host.name'] = HOST"]
    code += ["    doc['log.file.path'] = path", "    doc['log.offset'] = offset"]
    if builder.labels:
        code += ["    labels = doc.get('labels')",
                 "    doc['labels'] = {**labels, **LABELS} if labels else LABELS.copy()"]
    if builder.static_extra:
        code += ["    for key, value in STATIC_EXTRA:", "        extra.setdefault(key, value)"]
    code += ["    if extra:", "        doc['extra'] = extra", "    if tag_list:", "        doc['tags'] = tag_list"]
    return code

