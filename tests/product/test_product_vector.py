"""shipper/vector/vector.yaml: a valid Vector pipeline with the shipper's contract, its VRL run for real.

Vector is not installable here, so its structure is checked against what Vector requires, and the
VRL program (the part that can be wrong in subtle ways) runs in pyVRL, Vector's own VRL compiler and
runtime: the file's `tests:` pass, and every sample log of the shared corpus gives the same
documents as the Python shipper.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from product_support import REPO
from vrl_support import VECTOR, multiline_records, raw_config, run_vrl, vector_config

from shipper.naming import index_name
from shipper.sink.template import mappings

pytest.importorskip("pyvrl", reason="pyVRL ships wheels for CPython 3.11 and 3.12 only")

CORPUS = REPO.parent / "shared" / "corpus"
TOP_LEVEL = {"data_dir", "acknowledgements", "api", "sources", "transforms", "sinks", "tests", "schema",
             "enrichment_tables", "healthchecks", "log_schema", "timezone", "proxy", "expire_metrics_secs"}
REQUIRED = {"file": {"include"}, "internal_metrics": set(), "remap": {"inputs", "source"},
            "elasticsearch": {"inputs", "endpoints"}, "file_sink": {"inputs", "path", "encoding"},
            "prometheus_exporter": {"inputs"}}
COMPARED = ["@timestamp", "log.level", "message", "trace.id", "task.name", "task.attempt", "error.type",
            "error.message", "error.stack_trace", "event.duration", "event.action", "event.outcome", "log.logger",
            "host.name", "service.name", "extra", "tags"]
CORPUS_FILES = ["ecs.json.log", "zap.json.log", "logrus.json.log", "logrus.text.log", "python.log", "spring.log",
                "go-std.log", "go-panic.log", "syslog-cron.log", "gin.log"]


def program() -> str:
    """The remap transform's VRL source, environment interpolated with defaults."""
    source: str = vector_config()["transforms"]["parse"]["source"]
    return source


def shipper_docs(path: Path) -> list[dict[str, Any]]:
    """What the Python shipper indexes for ``path`` (`cronwatch shipper parse`)."""
    result = subprocess.run([sys.executable, "-c", "from cronwatch.cli import main; main()", "shipper", "parse",
                             "--tz", "Asia/Shanghai", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def vector_docs(path: Path) -> list[dict[str, Any]]:
    """What the Vector pipeline produces for ``path`` (multiline grouping + the VRL program)."""
    pattern = vector_config()["sources"]["job_logs"]["multiline"]["start_pattern"]
    results = run_vrl({"parse": program()}, [("parse", r) for r in multiline_records(path, pattern)],
                      tz="Asia/Shanghai")
    for r in results:
        assert "ok" in r, r.get("error")
    return [r["ok"] for r in results]


def test_top_level_and_component_types_are_known() -> None:
    """Only Vector's top-level keys; each component has a known type and its required options."""
    cfg = raw_config()
    assert set(cfg) <= TOP_LEVEL
    for kind in ("sources", "transforms", "sinks"):
        for name, comp in cfg[kind].items():
            key = "file_sink" if kind == "sinks" and comp["type"] == "file" else comp["type"]
            assert key in REQUIRED, f"{kind}.{name}: unknown type {comp['type']}"
            assert REQUIRED[key] <= set(comp), f"{kind}.{name}: missing {REQUIRED[key] - set(comp)}"


def test_the_graph_is_connected() -> None:
    """Every input names a component (parse.dropped only with reroute_dropped); nothing dangles."""
    cfg = raw_config()
    outputs = set(cfg["sources"]) | set(cfg["transforms"])
    for name, transform in cfg["transforms"].items():
        if transform.get("reroute_dropped"):
            outputs.add(f"{name}.dropped")
    consumed = set()
    for kind in ("transforms", "sinks"):
        for name, comp in cfg[kind].items():
            for source in comp["inputs"]:
                assert source in outputs, f"{kind}.{name}: unknown input {source}"
                consumed.add(source)
    assert outputs - consumed == set()


def test_delivery_is_acknowledged_buffered_and_never_dropped() -> None:
    """Acks end to end, a blocking disk buffer, and failed events routed to the dead-letter file."""
    cfg = raw_config()
    es = cfg["sinks"]["elasticsearch"]
    assert cfg["acknowledgements"]["enabled"] is True and es["acknowledgements"]["enabled"] is True
    assert es["buffer"] == {"type": "disk", "max_size": es["buffer"]["max_size"], "when_full": "block"}
    parse = cfg["transforms"]["parse"]
    assert parse["drop_on_error"] and parse["drop_on_abort"] and parse["reroute_dropped"]
    assert cfg["sinks"]["dead_letters"]["inputs"] == ["parse.dropped"]
    assert cfg["sinks"]["dead_letters"]["encoding"]["codec"] == "json"


def test_elasticsearch_sink_keeps_the_index_and_id_contract() -> None:
    """Daily index from the event's time via _cw_index (not indexed), _id from the document, TLS verified."""
    es = vector_config()["sinks"]["elasticsearch"]
    assert es["bulk"]["index"] == "{{ _cw_index }}" and es["encoding"]["except_fields"] == ["_cw_index"]
    assert es["id_key"] == "_id" and es["bulk"]["action"] == "index" and es["request_retry_partial"] is True
    assert es["tls"]["verify_certificate"] is True and es["tls"]["verify_hostname"] is True
    raw = raw_config()["sinks"]["elasticsearch"]["auth"]
    assert raw["password"] == "${ES_PASSWORD}"


def test_file_source_avoids_the_known_traps() -> None:
    """Short files are read at once (device+inode fingerprint) and the last multi-line record is flushed."""
    src = raw_config()["sources"]["job_logs"]
    assert src["fingerprint"]["strategy"] == "device_and_inode"
    assert src["read_from"] == "beginning" and src["offset_key"] == "offset"
    ml = src["multiline"]
    assert ml["mode"] == "halt_before" and 0 < ml["timeout_ms"] <= 5000
    assert ml["start_pattern"] == ml["condition_pattern"]


def test_every_environment_variable_is_documented() -> None:
    """Each ${VAR} the file uses is described in its header comment."""
    text = VECTOR.read_text()
    header = text.split("\ndata_dir:", 1)[0]
    for name in set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text)):
        assert name in header, name
    assert "CRONWATCH_TASK_FROM_PATH" in (VECTOR.parent / "README.md").read_text()


def test_the_files_own_unit_tests_pass() -> None:
    """Each case under `tests:` passes: the remap program's output satisfies its VRL conditions."""
    cfg = vector_config()
    cases = cfg["tests"]
    assert len(cases) >= 5
    programs = {"parse": program()}
    jobs = []
    for i, case in enumerate(cases):
        for j, out in enumerate(case["outputs"]):
            for k, cond in enumerate(out["conditions"]):
                assert cond["type"] == "vrl"
                programs[f"c{i}.{j}.{k}"] = ". = { \"__ok\": {\n" + cond["source"] + "\n} }"
        assert [inp["insert_at"] for inp in case["inputs"]] == ["parse"]
        jobs.append(("parse", case["inputs"][0]["log_fields"]))
    parsed = run_vrl(programs, jobs)
    checks = []
    for i, case in enumerate(cases):
        assert "ok" in parsed[i], f"{case['name']}: {parsed[i].get('error')}"
        for j, out in enumerate(case["outputs"]):
            for k in range(len(out["conditions"])):
                checks.append((case["name"], f"c{i}.{j}.{k}", parsed[i]["ok"]))
    results = run_vrl(programs, [(prog, event) for _, prog, event in checks])
    for (name, _, _), result in zip(checks, results, strict=True):
        assert result.get("ok", {}).get("__ok") is True, f"{name}: {result.get('error')}"


def test_a_wrong_expectation_fails() -> None:
    """The condition runner is not vacuous: a false assertion is reported as a failure."""
    results = run_vrl({"c": '. = { "__ok": { assert_eq!(.message, "other") } }'}, [("c", {"message": "m"})])
    assert "error" in results[0]


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_gives_the_same_documents_as_the_python_shipper(name: str) -> None:
    """For each sample log, Vector's documents equal the Python shipper's on every contract field."""
    path = CORPUS / name
    ours, theirs = shipper_docs(path), vector_docs(path)
    assert len(theirs) == len(ours)
    for mine, vec in zip(ours, theirs, strict=True):
        fields = COMPARED
        if vec["message"].startswith("panic: "):
            # A panic line has no time of its own: the Python shipper carries the previous record's,
            # Vector (one event at a time) uses the time it read the line.
            fields = [f for f in COMPARED if f != "@timestamp"]
        diff = {f: (vec.get(f), mine.get(f)) for f in fields if vec.get(f) != mine.get(f)}
        assert diff == {}, f"{name} offset {mine.get('log.offset')}"
        assert vec["log.offset"] == mine["log.offset"]


def test_documents_use_only_template_fields_and_the_daily_index() -> None:
    """Every field Vector writes is in the index template, and _cw_index is <prefix>-YYYY.MM.DD of @timestamp."""
    props = mappings()["properties"]
    allowed = set()
    for root, spec in props.items():
        if "properties" in spec:
            for sub, subspec in spec["properties"].items():
                allowed |= {f"{root}.{sub}"} | {f"{root}.{sub}.{x}" for x in subspec.get("properties", {})}
        else:
            allowed.add(root)
    for name in CORPUS_FILES:
        for doc in vector_docs(CORPUS / name):
            assert set(doc) - {"_id", "_cw_index"} <= allowed, name
            assert doc["_cw_index"] == index_name(doc, "cronwatch")
            assert re.fullmatch(r"[0-9a-f]{32}", doc["_id"])


def test_ids_are_deterministic_and_distinct() -> None:
    """The same line at the same offset always gets the same _id; another offset another one."""
    event = {"message": "2026/11/22 10:00:00 hello", "file": "/var/log/jobs/a.log", "host": "h", "offset": 7}
    moved = {**event, "offset": 8}
    a, b, c = run_vrl({"p": program()}, [("p", event), ("p", event), ("p", moved)])
    assert a["ok"]["_id"] == b["ok"]["_id"] != c["ok"]["_id"]


def test_index_day_can_follow_a_configured_zone() -> None:
    """With CRONWATCH_INDEX_TIMEZONE=Asia/Shanghai, 20:00 UTC lands in the next day's index."""
    source = vector_config({"CRONWATCH_INDEX_TIMEZONE": "Asia/Shanghai"})["transforms"]["parse"]["source"]
    line = '{"@timestamp":"2026-11-22T20:00:00.000Z","message":"late"}'
    utc, local = run_vrl({"utc": program(), "local": source},
                         [("utc", {"message": line, "offset": 0}), ("local", {"message": line, "offset": 0})])
    assert utc["ok"]["_cw_index"] == "cronwatch-2026.11.22"
    assert local["ok"]["_cw_index"] == "cronwatch-2026.11.23"
    assert local["ok"]["@timestamp"] == "2026-11-22T20:00:00.000Z"


ODD_LINES = ["", "   ", "{", "[1, 2]", '"just a string"', "null", '{"msg": {"nested": [1]}}',
             '{"level": 42, "ts": "not a time"}', "time=", "\x00\x01 binary", "x" * 5000,
             '{"message":"ok","trace_id":"NOT-A-TRACE"}', "Nov 31 99:99:99 h p: bad date",
             "2026-13-45 10:15:00,004 INFO [report] bad month"]


def test_odd_lines_are_kept_not_dropped() -> None:
    """The program never fails on odd input: every part of each line survives in its document, with a time."""
    jobs = [("p", {"message": line, "file": "/x.log", "host": "h", "offset": 0}) for line in ODD_LINES]
    for line, result in zip(ODD_LINES, run_vrl({"p": program()}, jobs), strict=True):
        assert "ok" in result, f"{line!r}: {result.get('error')}"
        check_kept(line, result["ok"])


def check_kept(line: str, doc: dict[str, Any]) -> None:
    """Assert that ``doc`` has a time and holds every value (JSON) or token (text) of ``line``."""
    assert doc["@timestamp"] and "trace.id" not in doc
    dumped = json.dumps(doc, ensure_ascii=False).lower()  # levels are normalised to lower case
    line = line.lower()
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if isinstance(record, dict):
        raw_kept = json.dumps(line, ensure_ascii=False)[1:-1] in dumped
        for value in record.values():
            assert raw_kept or json.dumps(value, ensure_ascii=False) in dumped, value
    else:
        for token in line.split():
            assert json.dumps(token.strip(':{}[]",'), ensure_ascii=False)[1:-1] in dumped, token


def test_syslog_year_is_inferred_from_the_read_time() -> None:
    """A yearless syslog time read just after New Year belongs to the old year; one from today to the new."""
    read = "2027-01-01T00:00:30Z"
    jobs = [("p", {"message": "Dec 31 23:59:50 web-1 CRON[1]: (root) CMD (backup)", "offset": 0, "timestamp": read}),
            ("p", {"message": "Jan  1 00:00:10 web-1 CRON[2]: (root) CMD (backup)", "offset": 60, "timestamp": read})]
    old, new = run_vrl({"p": program()}, jobs)
    assert old["ok"]["@timestamp"] == "2026-12-31T23:59:50.000Z" and old["ok"]["_cw_index"] == "cronwatch-2026.12.31"
    assert new["ok"]["@timestamp"] == "2027-01-01T00:00:10.000Z"
    assert old["ok"]["host.name"] == "web-1"
    assert old["ok"]["extra"] == {"program": "CRON", "pid": "1", "user": "root", "command": "backup"}
