"""Parsing speed: cronwatch's full pipeline vs pygrok vs the floor (``re.match`` + ``groupdict``).

Generates ≥200k realistic job-log lines (seeded), then times, on one core, in one run:

- ``cronwatch``: ``compile_parser(cfg).decoder(path)`` fed every line (decode, multi-line
  grouping, timestamp normalisation, level/trace/duration extraction, the ECS document, the
  ``Event``); the lines are handed over as the production tailer hands them, in batches of what
  one read of ``shipper.tail.reader.DEFAULT_CHUNK`` bytes holds (``Decoder.feed_many``;
  ``--per-line`` calls ``feed`` per line instead), and each batch's events are kept until the
  next batch is parsed;
  also the grok step alone (``Grok.parse``: the fields of each line, what pygrok returns);
- ``pygrok``: ``Grok(pattern).match(line)`` with the same pattern text, as a pygrok user runs it
  (pygrok's own library for the standard names; only names it lacks, such as our ``CW_*``
  formats, are passed as custom patterns), the patterns of a list tried in order;
- ``floor``: the same compiled expression(s) cronwatch uses, ``rx.match(line).groupdict()``.

The corpus is built before the timing and then frozen out of the cyclic garbage collector
(``gc.freeze()``, for every contender alike): a running shipper holds one read's lines, not
200k ``RawLine`` objects that every full collection would otherwise walk. ``--no-freeze``
times without that.

cronwatch runs its compiled one-line path (``shipper/_speedups.c``) when it is built;
``CRONWATCH_NO_EXTENSIONS=1`` measures the Python path instead (the header line says which ran).

Scenarios: one user pattern over Python ``logging`` lines, and the zero-configuration formats
over a mix of text formats. The contenders take turns for ``--repeat`` rounds, each timed on the
process's CPU time; prints the median lines/s and the median of the per-round ratios (targets:
≥ 3× pygrok, ≥ 0.6× the floor).

    .venv/bin/python benchmarks/parse.py [--lines 200000] [--repeat 5] [--per-line] [--no-freeze]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Callable

from shipper.compiled import speedups
from shipper.model import RawLine
from shipper.parse import ParseConfig, compile_parser
from shipper.parse.formats import CW_FORMATS
from shipper.parse.parser import builtin_library
from shipper.tail.reader import DEFAULT_CHUNK

USER_PATTERN = r"%{TIMESTAMP_ISO8601:timestamp} %{LOGLEVEL:level} \[%{DATA:logger}\] %{GREEDYDATA:message}"
LEVELS = ["INFO"] * 6 + ["DEBUG"] * 2 + ["WARNING", "ERROR"]
WORDS = ("sync orders batch rows fetched from upstream report generated retrying connection pool "
         "exhausted backup archive upload cleanup finished started scheduled task 同步 数据 备份 完成").split()


def _msg(rng: random.Random) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
    if rng.random() < 0.4:
        text += f" trace_id={rng.getrandbits(128):032x}"
    if rng.random() < 0.2:
        text += f" rows={rng.randint(1, 100000)}"
    return text


def _clock(i: int) -> tuple[int, int, int, int]:
    second = 36000 + i // 40
    return second // 3600, (second // 60) % 60, second % 60, (i * 37) % 1000


def python_lines(n: int, seed: int = 1) -> list[str]:
    """``%(asctime)s %(levelname)s [%(name)s] %(message)s`` lines."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        h, m, s, ms = _clock(i)
        out.append(f"2026-11-22 {h:02d}:{m:02d}:{s:02d},{ms:03d} {rng.choice(LEVELS)} "
                   f"[{rng.choice(('report', 'jobs.sync', 'backup'))}] {_msg(rng)}")
    return out


def mixed_lines(n: int, seed: int = 2) -> list[str]:
    """Spring Boot, Python, Go ``log``, Gin, syslog lines (text formats the built-in patterns know)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        h, m, s, ms = _clock(i)
        kind = rng.random()
        if kind < 0.3:
            out.append(f"2026-11-22 {h:02d}:{m:02d}:{s:02d},{ms:03d} {rng.choice(LEVELS)} [report] {_msg(rng)}")
        elif kind < 0.5:
            lvl = rng.choice(("INFO", "WARN", "ERROR", "DEBUG"))
            out.append(f"2026-11-22 {h:02d}:{m:02d}:{s:02d}.{ms:03d} {lvl:>5} 4242 --- [   scheduling-1] "
                       f"c.example.jobs.ReportJob                 : {_msg(rng)}")
        elif kind < 0.75:
            out.append(f"2026/11/22 {h:02d}:{m:02d}:{s:02d} {_msg(rng)}")
        elif kind < 0.9:
            out.append(f"[GIN] 2026/11/22 - {h:02d}:{m:02d}:{s:02d} | {rng.choice((200, 201, 404, 500))} | "
                       f"{rng.uniform(0.01, 900):>12.3f}µs | {rng.randint(1, 254):>15} | GET      \"/tasks/{i}\"")
        else:
            out.append(f"Nov 22 {h:02d}:{m:02d}:{s:02d} web-1 CRON[{20000 + i % 9000}]: (root) CMD (/usr/local/bin/job{i % 50}.sh)")
    return out


def run_cronwatch(lines: list[str], cfg: ParseConfig, per_line: bool = False) -> Callable[[], int]:
    parser = compile_parser(cfg)
    batches: list[list[RawLine]] = [[]]
    offset = start = 0
    for text in lines:
        end = offset + len(text.encode("utf-8")) + 1
        if end - start > DEFAULT_CHUNK:  # the lines one read of the tailer returns
            batches.append([])
            start = offset
        batches[-1].append(RawLine(text, offset, end, 1795312800.0))
        offset = end
    raw = [line for batch in batches for line in batch]

    def go() -> int:
        decoder = parser.decoder("/var/log/jobs/report.log")
        count = 0
        if per_line:
            feed = decoder.feed
            for line in raw:
                count += len(feed(line))
        else:
            feed_many = decoder.feed_many
            for batch in batches:
                events = feed_many(batch)  # kept until the next batch, as the shipper keeps a batch
                count += len(events)
        return count + len(decoder.flush())

    return go


def run_grok_step(lines: list[str], cfg: ParseConfig) -> Callable[[], int]:
    groks = compile_parser(cfg).groks

    def go() -> int:
        count = 0
        for line in lines:
            for g in groks:
                if g.parse(line) is not None:
                    count += 1
                    break
        return count

    return go


def run_pygrok(lines: list[str], patterns: list[str]) -> Callable[[], int]:
    from pygrok import Grok
    from pygrok.pygrok import DEFAULT_PATTERNS_DIRS, _reload_patterns

    theirs = _reload_patterns(DEFAULT_PATTERNS_DIRS)
    custom = {name: d.text for name, d in builtin_library().defs.items() if name not in theirs}
    groks = [Grok(p, custom_patterns=custom) for p in patterns]

    def go() -> int:
        count = 0
        for line in lines:
            for g in groks:
                if g.match(line) is not None:
                    count += 1
                    break
        return count

    return go


def run_floor(lines: list[str], expressions: list[object]) -> Callable[[], int]:
    def go() -> int:
        count = 0
        for line in lines:
            for rx in expressions:
                m = rx.match(line)  # type: ignore[attr-defined]
                if m is not None:
                    m.groupdict()
                    count += 1
                    break
        return count

    return go


def timed(fn: Callable[[], int], n: int) -> float:
    """Lines/s of one run, on the CPU time of this (single-threaded) process: on a shared machine
    the time other processes hold the core is not counted against any contender."""
    t0 = time.process_time()
    fn()
    return n / (time.process_time() - t0)


def scenario(name: str, lines: list[str], cfg: ParseConfig, patterns: list[str], repeat: int,
             per_line: bool = False, freeze: bool = True) -> None:
    parser = compile_parser(cfg)
    expressions = [g.rx for g in parser.groks]  # the expressions cronwatch runs, tried in order
    n = len(lines)
    runs = {"ours": run_cronwatch(lines, cfg, per_line), "step": run_grok_step(lines, cfg),
            "floor": run_floor(lines, expressions), "pygrok": run_pygrok(lines, patterns)}
    gc.collect()
    if freeze:
        gc.freeze()
    speeds: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeat):  # the contenders take turns, so a busy moment of the machine hits them alike
        for key, fn in runs.items():
            speeds[key].append(timed(fn, n))

    def med(key: str) -> float:
        return statistics.median(speeds[key])

    def ratio(a: str, b: str) -> float:  # the median of the ratios within each round
        return statistics.median(x / y for x, y in zip(speeds[a], speeds[b], strict=True))

    print(f"{name}: {n} lines, median of {repeat} rounds (CPU time; cronwatch fed "
          f"{'per line' if per_line else f'in batches of {DEFAULT_CHUNK // 1024} KiB'}"
          f"{', corpus frozen out of gc' if freeze else ''}; its one-line path "
          f"{'compiled' if speedups() is not None else 'in Python'})")
    print(f"  cronwatch grok step only  {med('step'):>12,.0f} lines/s   (fields of each line, what pygrok returns):"
          f" {ratio('step', 'pygrok'):.2f}x pygrok, {ratio('step', 'floor'):.2f}x floor")
    print(f"  cronwatch (full pipeline) {med('ours'):>12,.0f} lines/s")
    print(f"  pygrok                    {med('pygrok'):>12,.0f} lines/s   cronwatch/pygrok = "
          f"{ratio('ours', 'pygrok'):.2f}x (target >= 3)")
    print(f"  floor (re.match+groupdict){med('floor'):>12,.0f} lines/s   cronwatch/floor  = "
          f"{ratio('ours', 'floor'):.2f}x (target >= 0.6)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", choices=("user", "auto"), default=None)
    ap.add_argument("--per-line", action="store_true", help="feed the decoder one line at a time")
    ap.add_argument("--no-freeze", action="store_true", help="leave the corpus to the cyclic garbage collector")
    args = ap.parse_args()
    if args.only in (None, "user"):
        scenario("one grok pattern, Python logging lines", python_lines(args.lines),
                 ParseConfig(codec="grok", patterns=[USER_PATTERN], host="bench"), [USER_PATTERN], args.repeat,
                 args.per_line, not args.no_freeze)
    if args.only in (None, "auto"):
        scenario("zero-config formats, mixed text lines", mixed_lines(args.lines),
                 ParseConfig(host="bench"), [f"%{{{f}}}" for f in CW_FORMATS], args.repeat,
                 args.per_line, not args.no_freeze)


if __name__ == "__main__":
    main()
