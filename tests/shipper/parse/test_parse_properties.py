"""Properties: no input crashes the parser, and a JSON object's fields all come back."""

from __future__ import annotations

import string
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parse_helpers import raw_lines

from shipper.parse import ParseConfig, compile_parser
from shipper.parse.document import KNOWN, NESTED_ROOTS

AUTO = compile_parser(ParseConfig(host="h", timezone="Asia/Shanghai"))
GROK = compile_parser(ParseConfig(host="h", codec="grok", patterns=[
    "%{TIMESTAMP_ISO8601:timestamp} %{LOGLEVEL:level} %{GREEDYDATA:message}", "%{SYSLOGLINE}"]))

fragments = st.sampled_from([
    "2026-11-22 10:00:00,123 ", "ERROR ", "INFO ", "[x] ", "Traceback (most recent call last):", "  File ",
    "panic: ", "goroutine 1 [running]:", "\tat a.b(C.java:1)", "Caused by: x", "{", "}", '"', "=", "trace_id=",
    "4bf92f3577b34da6a3ce929d0e0e4736", "Nov 22 10:00:01 ", "<13>1 ", "[GIN] ", " | ", "time=", "level=",
    "\x00", "\ufffd", "数据", "\\", "1795312800", "duration=1.5s", ":", " ", "",
])
lines = st.lists(st.one_of(st.text(max_size=40), fragments), max_size=8).map("".join)


def run(parser: Any, text_lines: list[str]) -> list[Any]:
    """Feed lines (with a timeout flush in the middle) and flush at the end."""
    decoder = parser.decoder("/var/log/jobs/p.log")
    out = []
    for i, line in enumerate(raw_lines("\n".join(text_lines))):
        out.extend(decoder.feed(line))
        if i == 3:
            out.extend(decoder.flush(line.read_time + 60))
    out.extend(decoder.flush())
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=12))
def test_no_input_crashes_and_every_doc_is_indexable(text_lines: list[str]) -> None:
    """Any lines give events whose documents serialise, with contract types, covering the input in order."""
    for parser in (AUTO, GROK):
        evs = run(parser, text_lines)
        last_end = 0
        for ev in evs:
            doc = ev.doc
            orjson.dumps(doc)
            assert len(doc["@timestamp"]) == 24 and doc["@timestamp"].endswith("Z")
            assert doc.get("log.level", "info") in {"trace", "debug", "info", "warn", "error", "fatal"}
            assert isinstance(doc["log.offset"], int) and doc["log.offset"] == ev.offset >= last_end
            assert ev.end > ev.offset
            if "trace.id" in doc:
                assert len(doc["trace.id"]) == 32
            last_end = ev.end


json_keys = st.text(alphabet=string.ascii_letters + "_-.@", min_size=1, max_size=12).filter(
    lambda k: k not in KNOWN and k not in NESTED_ROOTS)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(json_keys, json_values, max_size=8), st.text(max_size=30))
def test_json_object_round_trips_its_fields(fields: dict[str, Any], message: str) -> None:
    """Every field of a JSON line that is not a contract name comes back unchanged under ``extra``."""
    obj = {"msg": message, "time": "2026-11-22T02:00:00.5Z", **fields}
    evs = run(AUTO, [orjson.dumps(obj).decode()])
    assert len(evs) == 1
    doc = evs[0].doc
    assert doc.get("extra", {}) == fields
    assert doc["@timestamp"] == "2026-11-22T02:00:00.500Z"
    assert doc["message"] == message
