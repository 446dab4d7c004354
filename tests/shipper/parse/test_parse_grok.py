"""Grok: Logstash syntax, our pattern library, start-up errors, and backtracking protection."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from parse_helpers import docs, one

from cronwatch.errors import ConfigError
from shipper.errors import PatternError
from shipper.parse import ParseConfig, compile_parser
from shipper.parse.grok import PatternLibrary, compile_grok, field_name
from shipper.parse.parser import builtin_library
from shipper.parse.risk import is_risky


def grok(pattern: str, line: str) -> dict[str, object] | None:
    """Compile ``pattern`` with the built-in library and parse ``line``; None values dropped."""
    found = compile_grok(pattern, builtin_library()).parse(line)
    return None if found is None else {k: v for k, v in found.items() if v is not None}


def test_syntax_field_and_types() -> None:
    """``%{SYNTAX:field:int|float}`` captures and converts; ``%{SYNTAX}`` alone captures nothing."""
    assert grok(r"%{WORD:verb} %{NUMBER:n:int} %{NUMBER:f:float} %{WORD}", "GET 42 1.5 end") == {
        "verb": "GET", "n": 42, "f": 1.5}


def test_nested_and_dotted_field_names() -> None:
    """``[log][level]`` and ``log.level`` both name the field ``log.level``."""
    assert field_name("[log][level]") == "log.level"
    assert grok(r"%{LOGLEVEL:[log][level]} %{WORD:task.name}", "ERROR backup") == {
        "log.level": "ERROR", "task.name": "backup"}


def test_named_captures_both_syntaxes() -> None:
    """Oniguruma ``(?<name>...)`` and Python ``(?P<name>...)`` captures become fields; lookbehinds stay."""
    assert grok(r"(?<a>\d+)-(?P<b>\w+)(?<=x)", "12-box") == {"a": "12", "b": "box"}


def test_same_field_in_alternatives() -> None:
    """A field captured in two alternatives takes the value of the branch that matched."""
    pattern = r"(?:%{INT:code}|%{WORD:code})!"
    assert grok(pattern, "abc!") == {"code": "abc"}
    assert grok(pattern, "17!") == {"code": "17"}


def test_core_patterns_match_what_users_expect() -> None:
    """A sample of the core library: timestamps, IPs, UUIDs, syslog time, levels, paths."""
    cases = {
        "TIMESTAMP_ISO8601": ["2026-11-22T10:00:00.123+08:00", "2026-11-22 10:00:00,004", "2026-11-22T02:00:00Z"],
        "IP": ["10.0.0.12", "192.168.1.20", "::1", "fe80::1ff:fe23:4567:890a", "2001:db8::8a2e:370:7334"],
        "UUID": ["550e8400-e29b-41d4-a716-446655440000"],
        "SYSLOGTIMESTAMP": ["Nov 22 10:00:01", "Nov  2 10:00:01"],
        "LOGLEVEL": ["INFO", "warning", "CRITICAL", "dpanic"],
        "HTTPDATE": ["22/Nov/2026:10:00:00 +0800"],
        "GODURATION": ["1.482913ms", "85.211µs", "1h2m3.5s"],
        "PATH": ["/var/log/jobs/backup.log", r"C:\jobs\run.bat"],
        "URI": ["https://user@example.com:8443/a/b?x=1&y=2"],
        "QUOTEDSTRING": ['"say \\"hi\\""'],
        "EMAILADDRESS": ["ops@example.com"],
    }
    for name, samples in cases.items():
        g = compile_grok(f"^%{{{name}:v}}$", builtin_library())
        for sample in samples:
            assert g.parse(sample) == {"v": sample}, (name, sample)
    assert compile_grok("^%{IPV4:v}$", builtin_library()).parse("256.1.1.1") is None


def test_every_builtin_definition_compiles() -> None:
    """Every pattern in our library compiles on its own (a typo is caught here, not at 3 a.m.)."""
    lib = builtin_library()
    assert {"TIMESTAMP_ISO8601", "LOGLEVEL", "IP", "NUMBER", "DATA", "GREEDYDATA", "UUID",
            "SYSLOGTIMESTAMP"} <= set(lib.defs)
    for name in lib.defs:
        compile_grok(f"%{{{name}}}", lib)


def test_patterns_tried_in_order_first_match_wins() -> None:
    """A list of patterns is tried in order; the first that matches decides the fields."""
    doc = one("backup 200 ok", codec="grok", patterns=[r"%{WORD:task} %{INT:status:int} %{WORD:w}",
                                                       r"%{GREEDYDATA:everything}"])
    assert doc["task.name"] == "backup" and doc["extra"] == {"status": 200, "w": "ok"}


def test_no_match_is_tagged_and_kept() -> None:
    """A line no pattern matches keeps its text as the message and is tagged ``_grokparsefailure``."""
    doc = one("something else entirely", codec="grok", patterns=[r"^%{INT:n}$"])
    assert doc["tags"] == ["_grokparsefailure"] and doc["message"] == "something else entirely"


def test_unknown_pattern_names_pattern_and_position() -> None:
    """An unknown ``%{NAME}`` is a start-up error naming the setting, pattern and position."""
    with pytest.raises(PatternError) as err:
        compile_parser(ParseConfig(patterns=["%{WORD:a}", "%{INT:x} %{NOPE:y}"]))
    assert isinstance(err.value, ConfigError)
    (problem,) = err.value.problems
    assert problem.startswith("patterns[1] '%{INT:x} %{NOPE:y}': ")
    assert "unknown grok pattern %{NOPE} at position 9" in problem


def test_bad_regex_position_points_into_user_text() -> None:
    """A regex error's position is counted in the pattern as written, references included."""
    with pytest.raises(PatternError) as err:
        compile_parser(ParseConfig(patterns=[r"%{WORD:verb} (?<x>[a-z)"]))
    assert "invalid regular expression at position 18" in str(err.value)


def test_errors_of_all_patterns_reported_together() -> None:
    """Every broken pattern is listed at once, not only the first."""
    with pytest.raises(PatternError) as err:
        compile_parser(ParseConfig(patterns=["%{A1}", "%{WORD:x:bool}", "(unclosed"]))
    problems = err.value.problems
    assert len(problems) == 3
    assert "unknown type 'bool'" in problems[1]
    assert "invalid regular expression at position 0: missing ), unterminated subpattern" in problems[2]


def test_pattern_file_and_inline_definitions(tmp_path: Path) -> None:
    """Custom pattern files (``NAME regex`` per line) and inline definitions are usable; inline wins."""
    f = tmp_path / "jobs.grok"
    f.write_text("# our job lines\nJOBID job-[0-9]+\n\nJOBLINE %{JOBID:job_id} %{GREEDYDATA:message}\n")
    cfg = ParseConfig(codec="grok", patterns=["%{JOBLINE}"], pattern_files=[f],
                      pattern_definitions={"JOBID": "run-[0-9]+"})
    parser = compile_parser(cfg)
    decoder = parser.decoder("/x.log")
    from shipper.model import RawLine

    decoder.feed(RawLine("run-7 copied 3 files", 0, 21, 1795312800.0))
    (event,) = decoder.flush()
    assert event.doc["extra"] == {"job_id": "run-7"} and event.doc["message"] == "copied 3 files"


def test_pattern_file_errors_name_file_and_line(tmp_path: Path) -> None:
    """A broken definition in a pattern file is reported with ``file:line`` and its name."""
    f = tmp_path / "bad.grok"
    f.write_text("GOOD \\d+\nBAD (?<x>[0-9\n")
    with pytest.raises(PatternError) as err:
        compile_parser(ParseConfig(patterns=["%{BAD}"], pattern_files=[f]))
    assert f"{f}:2: pattern BAD: invalid regular expression at position 5" in str(err.value)
    with pytest.raises(PatternError, match="has no expression"):
        PatternLibrary().add_text("LONELY\n", "x.grok")
    with pytest.raises(PatternError, match="cannot read pattern file"):
        compile_parser(ParseConfig(pattern_files=[tmp_path / "missing.grok"]))


def test_unused_inline_definition_is_still_checked() -> None:
    """A broken inline definition fails at start-up even if no pattern uses it yet."""
    with pytest.raises(PatternError, match=r"pattern_definitions\.BROKEN: pattern BROKEN: invalid regular expression at position 1"):
        compile_parser(ParseConfig(pattern_definitions={"BROKEN": "a(b"}))


def test_recursive_definitions_are_rejected() -> None:
    """A definition that refers to itself (directly or through others) is an error, not a hang."""
    with pytest.raises(PatternError, match="refers to itself"):
        compile_parser(ParseConfig(patterns=["%{A}"], pattern_definitions={"A": "x%{B}", "B": "%{A}y"}))


def test_backreferences_are_refused_clearly() -> None:
    """Group renaming would break backreferences, so they are a clear error."""
    with pytest.raises(PatternError, match="backreferences are not supported"):
        compile_parser(ParseConfig(patterns=[r"(?<q>['\"])%{DATA:s}\k<q>"]))


def test_risk_analysis() -> None:
    """Nested or repeated loose wildcards are risky; delimited, possessive and final ones are not."""
    assert is_risky(r"^(\w+\s?)*$")
    assert is_risky(r"(?P<a>.*) (?P<b>.*) (?P<c>\d+)")
    assert is_risky(r"^(a|a)*$")
    assert is_risky(r"^(.*?,){11}P")
    assert not is_risky(r"^(?P<a>[^\]]*)\] (?P<b>\d+):(?P<c>.*)$")
    assert not is_risky(r"^(?P<a>.*?) (?P<b>.*)")
    assert not is_risky(r"(?>.*x)(?>.*y).*")
    lib = builtin_library()
    from shipper.parse.formats import CW_FORMATS

    for name in CW_FORMATS:
        assert not compile_grok(f"%{{{name}}}", lib).risky, name


def test_catastrophic_pattern_is_cut_by_time_budget() -> None:
    """A pattern that backtracks exponentially gives up within its budget and tags ``_groktimeout``."""
    cfg = ParseConfig.model_validate({"codec": "grok", "patterns": [r"^(?<a>(?:%{DATA},){11})P"],
                                      "grok_timeout": "50ms", "host": "h"})
    parser = compile_parser(cfg)
    assert parser.groks[0].risky
    line = "1," * 40
    start = time.monotonic()
    found = docs(line, cfg=cfg)
    assert time.monotonic() - start < 5
    assert found[0]["tags"] == ["_groktimeout"] and found[0]["message"] == line
    assert docs("a,b,c,d,e,f,g,h,i,j,k,P", cfg=cfg)[0]["extra"] == {"a": "a,b,c,d,e,f,g,h,i,j,k,"}


def test_generated_builders_agree_with_the_generic_path(corpus_dir: Path) -> None:
    """For every corpus line and a few odd ones, the generated fast path gives the generic document."""
    for cfg in (ParseConfig(timezone="Asia/Shanghai", host="h", labels={"env": "x"}, fields={"service.name": "s", "k": "v"}),
                ParseConfig(host="h", patterns=[r"%{TIMESTAMP_ISO8601:time} %{LOGLEVEL:lvl} %{GREEDYDATA:msg}",
                                                r"(?<status>\d{3}) %{WORD:priority}",
                                                r"D %{DATE_ISO:date} (?:%{TIMESTAMP_ISO8601:time}|-) %{WORD:ts}"])):
        parser = compile_parser(cfg)
        lines = [line for f in sorted(corpus_dir.glob("*.log")) for line in f.read_text().splitlines()]
        lines += ["2026-11-22 10:00:00 BOGUS message", "2026-99-22 10:00:00 INFO bad date", "ERROR: x traceId=abc",
                  "<13>1 2026-11-22T02:00:00Z h p 1 - - m", "2026-11-22 10:00:00,123 INFO [a] ", "404 x", "abc",
                  "D 2026-01-01 2026-11-22T02:00:00Z x", "D 2026-01-01 - x", "D 2026-99-01 - y"]
        matched = 0
        for line in lines:
            if line.startswith(("{", "time=")):
                continue  # JSON and logfmt never take the grok path
            args = (line, "/p.log", 7, 1795312800.0, ["  frame"], ["_truncated"], "t")
            fast_doc = parser.document(*args)
            for grok in parser.groks:
                fields = grok.parse(line)
                if fields is not None:
                    matched += 1
                    generic = parser.builder.build(fields, line, "/p.log", 7, 1795312800.0, None, ["  frame"],
                                                   ["_truncated"], "t", True)
                    assert fast_doc == generic, line
                    break
        assert matched > 20


def test_logstash_style_pattern_file(tmp_path: Path) -> None:
    """A pattern file written for Logstash (atomic groups, ``(?<name>...)``, nested fields) works as is."""
    f = tmp_path / "legacy"
    f.write_text(
        "JOBSTAMP %{YEAR}-%{MONTHNUM}-%{MONTHDAY} %{TIME}\n"
        "JOBLINE (?>%{JOBSTAMP:[@metadata][ts]}) \\[(?<[task][name]>[^\\]]+)\\] %{LOGLEVEL:[log][level]}: "
        "%{GREEDYDATA:message}\n")
    cfg = ParseConfig(codec="grok", patterns=["%{JOBLINE}"], pattern_files=[f], timezone="UTC", host="h")
    doc = one("2026-11-22 10:00:00 [backup] WARNING: disk 91% full", cfg=cfg)
    assert doc["task.name"] == "backup" and doc["log.level"] == "warn"
    assert doc["message"] == "disk 91% full"
    assert doc["extra"] == {"@metadata.ts": "2026-11-22 10:00:00"}


def test_odd_field_names_are_safe() -> None:
    """Field names with quotes, spaces or brackets are plain data: captured, never evaluated."""
    doc = one("x y z", codec="grok", patterns=["%{WORD:it's} %{WORD:[a b][c]} %{WORD:__import__}"])
    assert doc["extra"] == {"it's": "x", "a b.c": "y", "__import__": "z"}
