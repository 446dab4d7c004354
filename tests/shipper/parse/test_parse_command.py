"""``cronwatch shipper parse``: documents as they would be indexed, the grok debugger, config files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner

from cronwatch.cli import cli
from shipper import naming


def run(*args: str, input: bytes | None = None) -> tuple[int, list[dict[str, Any]], str]:
    """Run the real CLI; return exit code, the JSON documents printed, and stderr."""
    result = CliRunner().invoke(cli, ["shipper", "parse", *args], input=input)
    out = [orjson.loads(line) for line in result.stdout_bytes.splitlines() if line.strip()]
    return result.exit_code, out, result.stderr


def test_prints_one_document_per_event(corpus_dir: Path) -> None:
    """Every event of each file is one JSON line, exactly the document to index."""
    code, out, _ = run("--tz", "Asia/Shanghai", str(corpus_dir / "python.log"), str(corpus_dir / "gin.log"))
    assert code == 0
    assert len(out) == 6
    assert out[1]["error.type"] == "sqlite3.OperationalError"
    assert out[0]["@timestamp"] == "2026-11-22T02:15:00.004Z"
    assert out[3]["log.file.path"] == str(corpus_dir / "gin.log")


def test_with_meta_matches_the_sink_naming(tmp_path: Path) -> None:
    """``--with-meta`` gives the daily index and the deterministic id the sink will use."""
    log = tmp_path / "job.log"
    log.write_bytes(b"2026-11-22 23:59:59,500 INFO [x] late\n2026-11-23 00:00:01,000 INFO [x] early\n")
    code, out, _ = run("--with-meta", str(log))
    assert code == 0
    assert [o["_index"] for o in out] == ["cronwatch-2026.11.22", "cronwatch-2026.11.23"]
    source = naming.source_for_path(str(log))
    assert out[0]["_id"] == naming.doc_id(source, 0, "2026-11-22 23:59:59,500 INFO [x] late")
    assert out[1]["_id"] == naming.doc_id(source, 38, "2026-11-23 00:00:01,000 INFO [x] early")
    assert out[1]["_source"]["log.offset"] == 38
    assert run("--with-meta", str(log))[1] == out  # the same file gives the same ids


def test_grok_debugger_patterns_from_flags(tmp_path: Path) -> None:
    """``--pattern`` is tried in order; lines matching none are tagged ``_grokparsefailure``."""
    log = tmp_path / "a.log"
    log.write_text("job=backup took 3s\nsomething else\n")
    code, out, _ = run("--pattern", r"job=%{WORD:task} took %{GODURATION:duration}", str(log))
    assert code == 0
    assert out[0]["task.name"] == "backup" and out[0]["event.duration"] == 3_000_000_000
    assert out[1]["tags"] == ["_grokparsefailure"]


def test_bad_pattern_exit_2_with_position(tmp_path: Path) -> None:
    """A bad pattern is reported on stderr with its position, exit status 2, nothing printed."""
    log = tmp_path / "a.log"
    log.write_text("x\n")
    code, out, err = run("--pattern", "%{WORD:a} %{NOPE}", str(log))
    assert code == 2 and out == []
    assert "error: patterns[0] '%{WORD:a} %{NOPE}': unknown grok pattern %{NOPE} at position 10" in err


def test_stdin_and_invalid_utf8() -> None:
    """``-`` reads stdin; invalid UTF-8 is replaced, never fatal."""
    code, out, _ = run("-", input=b"bad \xff\xfe bytes\n{\"msg\": \"ok\"}\n")
    assert code == 0
    assert out[0]["message"] == "bad \ufffd\ufffd bytes" and out[1]["message"] == "ok"
    assert out[0]["log.file.path"] == "-"


def test_parse_settings_file(tmp_path: Path) -> None:
    """``--config`` with parse settings at the top level applies them (zone, labels, task from path)."""
    cfg = tmp_path / "parse.yml"
    cfg.write_text("timezone: Asia/Shanghai\nlabels: {env: prod}\ntask_from_path: '(?P<task>[a-z]+)\\.log$'\n")
    log = tmp_path / "billing.log"
    log.write_text("2026-11-22 10:00:00 INFO started\n")
    code, out, _ = run("--config", str(cfg), str(log))
    assert code == 0
    assert out[0]["@timestamp"] == "2026-11-22T02:00:00.000Z"
    assert out[0]["labels"] == {"env": "prod"} and out[0]["task.name"] == "billing"


def test_shipper_config_picks_matching_input(tmp_path: Path) -> None:
    """With a shipper.yml, the input whose paths match the file is used, with the sink's prefix and zone."""
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    cfg = tmp_path / "shipper.yml"
    cfg.write_text(f"""
tz: Asia/Shanghai
sink:
  index_prefix: jobs
inputs:
  - paths: ["{a}/*.log"]
    labels: {{input: a}}
  - paths: ["{b}/*.log"]
    timezone: Asia/Shanghai
    labels: {{input: b}}
""")
    (b / "x.log").write_text("2026-11-22 07:30:00 INFO hi\n")
    code, out, err = run("--config", str(cfg), "--with-meta", str(b / "x.log"))
    assert code == 0, err
    doc = out[0]
    assert doc["_source"]["labels"] == {"input": "b"}
    assert doc["_source"]["@timestamp"] == "2026-11-21T23:30:00.000Z"
    assert doc["_index"] == "jobs-2026.11.22"  # the day in the configured zone


def test_config_errors_name_file_and_line(tmp_path: Path) -> None:
    """A bad setting in the file is reported as ``file:line: field: message`` with exit 2."""
    cfg = tmp_path / "parse.yml"
    cfg.write_text("codec: auto\nmultiline:\n  max_lines: zero\n")
    code, _, err = run("--config", str(cfg), "-", input=b"x\n")
    assert code == 2
    assert f"{cfg}:3: multiline.max_lines:" in err


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A file that does not exist is named in the error."""
    code, _, err = run(str(tmp_path / "nope.log"))
    assert code != 0 and "nope.log" in err
