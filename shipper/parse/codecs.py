"""Line codecs: JSON objects, logfmt, and the helpers auto-detection uses.

Each decoder takes one line and returns its fields (a dict) or None when the line is not of
that format. None of them raises on bad input.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_INT64 = (-(2**63), 2**64 - 1)


def _clean(value: Any) -> Any:
    """Make a value decoded by the tolerant JSON path indexable: huge ints and NaN become strings,
    lone surrogates are replaced."""
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
        return str(value)
    return value


def decode_json(text: str) -> dict[str, Any] | None:
    """The object on this line, or None when the line is not one JSON object."""
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        # orjson refuses integers beyond 64 bits, NaN and lone surrogates; the stdlib does not
        try:
            obj = json.loads(text, parse_constant=str)
        except (ValueError, RecursionError):
            return None
        obj = _clean(obj)
    return obj if isinstance(obj, dict) else None


_PAIR = re.compile(r'[ \t]*+([^\s="]++)(?:=("(?:[^"\\]|\\.)*+"|[^\s"]*+))?[ \t]*+')
LOGFMT_START = re.compile(r"[A-Za-z_@][\w.@/-]*+=")


def _unquote(quoted: str) -> str:
    inner = quoted[1:-1]
    if "\\" not in inner:
        return inner
    try:
        out = orjson.loads(quoted)
        if isinstance(out, str):
            return out
    except orjson.JSONDecodeError:
        pass
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), inner)


def decode_logfmt(text: str, strict: bool = True) -> dict[str, Any] | None:
    """``key=value key="quoted value"`` pairs; None unless the whole line is such pairs.

    ``strict`` (auto-detection): every token must have ``=``; otherwise a bare key gets ``True``.
    """
    out: dict[str, Any] = {}
    pos, n = 0, len(text)
    match = _PAIR.match
    while pos < n:
        m = match(text, pos)
        if m is None or m.end() == pos:
            return None
        key, value = m.group(1), m.group(2)
        if value is None:
            if strict:
                return None
            out[key] = True
        elif value[:1] == '"':
            out[key] = _unquote(value)
        else:
            out[key] = value
        pos = m.end()
    return out or None
