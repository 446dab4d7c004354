"""Run the VRL program of shipper/vector/vector.yaml in Python, as Vector would, to test it here.

Vector itself is not installable on these machines; pyVRL embeds Vector's own VRL compiler and
runtime. What Vector does around the program is reproduced: ``${VAR:-default}`` interpolation of
the file, the file source's multiline grouping and offsets, and the remap's ``timezone`` (as the
runtime's local zone, so each run is a subprocess with ``TZ`` set).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from product_support import REPO, load_yaml

VECTOR = REPO / "shipper" / "vector" / "vector.yaml"
_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")

_RUNNER = r"""
import json, sys
import pyvrl
programs = json.loads(sys.stdin.readline())
# Vector's file source gives every event its read time as a timestamp in .timestamp; JSON cannot
# carry one, so an ISO string stands for it (or the current time when absent).
READ_TIME = 'harness_read_time = parse_timestamp(string(.timestamp) ?? "", "%+") ?? now()\n.timestamp = get({"t": harness_read_time}, ["t"]) ?? null\n'
compiled = {name: pyvrl.Transform(READ_TIME + src) for name, src in programs.items()}
for line in sys.stdin:
    job = json.loads(line)
    try:
        out = compiled[job["program"]].remap(job["event"])
        print(json.dumps({"ok": out}, default=str), flush=True)
    except Exception as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
"""


def interpolate(text: str, env: dict[str, str] | None = None) -> str:
    """Vector's environment interpolation: ``${VAR}``, ``${VAR:-default}``, ``$VAR``, ``$$`` → ``$``."""
    values = env or {}

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(3)
        if name in values:
            return values[name]
        return m.group(2) if m.group(2) is not None else ""

    return _ENV_REF.sub(repl, text)


def vector_config(env: dict[str, str] | None = None) -> dict[str, Any]:
    """vector.yaml after interpolation, parsed."""
    from ruamel.yaml import YAML

    config: dict[str, Any] = YAML(typ="safe", pure=True).load(interpolate(VECTOR.read_text(), env))
    return config


def raw_config() -> dict[str, Any]:
    """vector.yaml parsed as written (placeholders kept)."""
    config: dict[str, Any] = load_yaml(VECTOR)
    return config


def run_vrl(programs: dict[str, str], jobs: list[tuple[str, dict[str, Any]]], tz: str = "UTC") -> list[dict[str, Any]]:
    """Run each (program name, event) job; results are {"ok": event} or {"error": message}."""
    env = {**os.environ, "TZ": tz}
    stdin = json.dumps(programs) + "\n" + "".join(json.dumps({"program": p, "event": e}) + "\n" for p, e in jobs)
    result = subprocess.run([sys.executable, "-c", _RUNNER], input=stdin, capture_output=True, text=True,
                            env=env, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"VRL runner failed: {result.stderr[-4000:]}")
    return [json.loads(line) for line in result.stdout.splitlines()]


def multiline_records(path: Path, start_pattern: str) -> list[dict[str, Any]]:
    """The file source's events for ``path``: lines grouped by ``start_pattern`` (halt_before), with offsets."""
    start = re.compile(start_pattern)
    records: list[dict[str, Any]] = []
    offset = 0
    for line in path.read_bytes().splitlines(keepends=True):
        text = line.decode("utf-8").rstrip("\r\n")
        if not records or start.search(text):
            records.append({"message": text, "file": str(path), "host": "vm", "offset": offset})
        else:
            records[-1]["message"] += "\n" + text
        offset += len(line)
    return records
