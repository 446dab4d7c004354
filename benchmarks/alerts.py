"""Alert ingest and delivery: cronwatch's alerter vs the real Alertmanager (Debian binary), same run.

Both get the same configuration (``group_by: ['...']``, ``group_wait: 0s``, one webhook receiver)
and 1,000 silences (a few of which match), then the same 10,000 distinct alerts posted to
``/api/v2/alerts`` in batches of 256, one request in flight. Measured:

- accepted alerts/s: alerts / wall time of all POSTs (median of the per-batch rates also shown);
- ingest → delivery latency: from just before an alert's batch was posted to its arrival at the
  webhook sink (a separate process; CLOCK_MONOTONIC is system-wide), p50 and p99 — in the storm
  above (10,000 groups at once: both queue) and in a paced run (default 2,000 more alerts at
  500 alerts/s in batches of 25), which shows the latency when the alerter keeps up;
- delivered/s: storm alerts at the sink / (last arrival − first POST) — the delivery throughput;
- the sink's ceiling: POSTs/s it takes from a lean raw HTTP/1.1 client (keep-alive, one request in
  flight per connection). A storm's p99 can only stay low when delivery keeps up with ingest, and
  delivery can never beat this ceiling.

Targets (issue 6): accepted rate ≥ Alertmanager's; p99 ≤ 50 ms. Both processes run on the same
2 shared cores as the sender and the sink, so numbers are noisy: compare the ratios.

    .venv/bin/python benchmarks/alerts.py [--alerts 10000] [--batch 256] [--silences 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from cronwatch.testing.services import free_port, start_alertmanager, wait_until

REPO = Path(__file__).resolve().parent.parent
SINK = r"""
# The webhook sink: a lean HTTP/1.1 server (asyncio + httptools, keep-alive) so that the measuring
# instrument is not the bottleneck. POST /{who}: records the arrival time of each alert (label "i");
# GET /{who}: how many distinct alerts arrived for that sender.
import asyncio, json, signal, sys, time
import httptools
got = {}
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
class Conn(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport
        self.p = httptools.HttpRequestParser(self)
    def on_message_begin(self):
        self.url, self.body = b"", []
    def on_url(self, url):
        self.url += url
    def on_body(self, body):
        self.body.append(body)
    def on_message_complete(self):
        t = time.clock_gettime(time.CLOCK_MONOTONIC)
        who = self.url.decode().strip("/")
        if self.p.get_method() == b"POST":
            for a in json.loads(b"".join(self.body))["alerts"]:
                got.setdefault(who, {}).setdefault(a["labels"]["i"], t)
            self.t.write(OK)
        else:
            body = str(len(got.get(who, {}))).encode()
            self.t.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(body), body))
    def data_received(self, data):
        try:
            self.p.feed_data(data)
        except httptools.HttpParserError:
            self.t.close()
async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Conn, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    server.close()
    with open(sys.argv[2], "w") as f:
        json.dump(got, f)
asyncio.run(main())
"""


def config(sink_url: str) -> str:
    """The same routing for both: every alert its own group, sent at once."""
    return f"""
route:
  receiver: sink
  group_by: ['...']
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 4h
receivers:
  - name: sink
    webhook_configs: [{{url: '{sink_url}', send_resolved: false}}]
"""


def silences(n: int) -> list[dict[str, Any]]:
    """``n`` silences; those for task-0..task-24 match alerts, the rest do not."""
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        out.append({"matchers": [{"name": "task", "value": f"task-{i}" if i < 25 else f"other-{i}",
                                  "isRegex": False, "isEqual": True},
                                 {"name": "severity", "value": "warning|critical", "isRegex": True,
                                  "isEqual": True}],
                    "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=2)).isoformat(),
                    "createdBy": "bench", "comment": f"silence {i}"})
    return out


def silences_yaml(n: int) -> str:
    """The same silences as a cronwatch silences file."""
    lines = ["silences:"]
    for s in silences(n):
        ms = ", ".join(f"'{m['name']}{'=~' if m['isRegex'] else '='}\"{m['value']}\"'" for m in s["matchers"])
        lines += [f"  - matchers: [{ms}]", f"    starts_at: {s['startsAt']}", f"    ends_at: {s['endsAt']}",
                  f"    comment: {s['comment']}"]
    return "\n".join(lines) + "\n"


def alerts(n: int, offset: int = 0) -> list[dict[str, Any]]:
    """``n`` distinct alerts shaped like cronwatch's rules produce (indices from ``offset``)."""
    now = datetime.now(UTC)
    ends = (now + timedelta(minutes=30)).isoformat()
    return [{"labels": {"alertname": f"TaskFailed{i % 7}", "task": f"task-{i % 2000}", "i": str(i),
                        "severity": ("critical", "warning", "info")[i % 3], "env": "prod", "team": f"t{i % 13}"},
             "annotations": {"summary": f"task-{i % 2000} failed", "runbook_url": "https://runbooks/x"},
             "startsAt": now.isoformat(), "endsAt": ends, "generatorURL": "http://prometheus/graph"}
            for i in range(offset, offset + n)]


async def post_all(url: str, items: list[dict[str, Any]], batch: int,
                   pace: float = 0.0) -> tuple[float, list[float], dict[str, float]]:
    """POST in batches, one at a time (``pace`` s apart when > 0); returns wall s, batch rates, send times."""
    sent: dict[str, float] = {}
    rates = []
    async with httpx.AsyncClient(timeout=60) as http:
        t0 = time.perf_counter()
        for start in range(0, len(items), batch):
            chunk = items[start:start + batch]
            t_send = time.clock_gettime(time.CLOCK_MONOTONIC)
            b0 = time.perf_counter()
            r = await http.post(url + "/api/v2/alerts", json=chunk)
            r.raise_for_status()
            rates.append(len(chunk) / (time.perf_counter() - b0))
            for a in chunk:
                sent[a["labels"]["i"]] = t_send
            if pace:
                await asyncio.sleep(max(0.0, pace - (time.clock_gettime(time.CLOCK_MONOTONIC) - t_send)))
        wall = time.perf_counter() - t0
    return wall, rates, sent


async def measure(url: str, items: list[dict[str, Any]], args: argparse.Namespace, sink: str,
                  expected: int) -> dict[str, Any]:
    """Post everything to one alerter as fast as it accepts, then wait for its deliveries; then a paced run."""
    wall, rates, sent = await post_all(url, items, args.batch)
    await drain(sink, expected, args.drain)
    paced = alerts(args.paced_alerts, offset=len(items))
    _, _, paced_sent = await post_all(url, paced, args.paced_batch, pace=args.paced_batch / args.paced_rate)
    await drain(sink, expected + args.paced_alerts - len(silenced_indices(len(items) + args.paced_alerts)
                                                         - silenced_indices(len(items))), args.drain)
    return {"wall": wall, "rates": rates, "sent": sent, "paced_sent": paced_sent}


def silenced_indices(n: int) -> set[str]:
    """The alert indices the matching silences mute (task-0..24, severity critical or warning)."""
    return {str(i) for i in range(n) if i % 2000 < 25 and i % 3 != 2}


async def drain(url: str, expected: int, limit: float) -> None:
    """Wait until the sink holds ``expected`` alerts for this sender (or ``limit`` seconds pass)."""
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if (await http.get(url)).json() >= expected:
                return
            await asyncio.sleep(0.1)


async def ceiling(port: int, n: int, connections: int) -> float:
    """POSTs/s the sink takes from a lean client: raw HTTP/1.1 keep-alive, ``connections`` in parallel,
    one request in flight per connection, a one-alert v4 body each (what the alerters send)."""

    def request(i: int) -> bytes:
        body = json.dumps({"version": "4", "groupKey": f"{{}}:{{i=\"{i}\"}}", "truncatedAlerts": 0,
                           "status": "firing", "receiver": "sink", "groupLabels": {"i": str(i)},
                           "commonLabels": {"i": str(i)}, "commonAnnotations": {}, "externalURL": "",
                           "alerts": [{"status": "firing", "labels": {"i": str(i)}, "annotations": {},
                                       "startsAt": "2026-11-23T02:00:00.000Z", "endsAt": "0001-01-01T00:00:00Z",
                                       "generatorURL": "", "fingerprint": "0"}]}).encode()
        return (b"POST /ceiling HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def worker(ids: range) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in ids:
            writer.write(request(i))
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(range(k, n, connections)) for k in range(connections)))
    return n / (time.perf_counter() - t0)


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values``."""
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="cronwatch-bench-alerts-"))
    sink_port = free_port()
    sink_out = work / "sink.json"
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(sink_port), str(sink_out)])
    wait_until(lambda: httpx.post(f"http://127.0.0.1:{sink_port}/probe", json={"alerts": []}).is_success, 10, "sink")

    am = start_alertmanager(work / "am", config(f"http://127.0.0.1:{sink_port}/am"))
    ours_dir = work / "us"
    ours_dir.mkdir()
    (ours_dir / "alerter.yml").write_text(config(f"http://127.0.0.1:{sink_port}/us"))
    port = free_port()
    with open(ours_dir / "alerter.log", "wb") as log:
        us = subprocess.Popen([str(REPO / ".venv/bin/cronwatch"), "--log-level", "error", "alerter", "run",
                               "--config", str(ours_dir / "alerter.yml"), "--listen", f"127.0.0.1:{port}"],
                              stdout=log, stderr=subprocess.STDOUT, cwd=ours_dir)
    us_url = f"http://127.0.0.1:{port}"
    results: dict[str, dict[str, Any]] = {}
    ceilings: list[float] = []
    try:
        wait_until(lambda: httpx.get(us_url + "/-/ready").is_success, 30, "cronwatch alerter", us)
        print("loading silences ...", file=sys.stderr)
        with httpx.Client(timeout=30) as c:
            for s in silences(args.silences):
                c.post(am.url + "/api/v2/silences", json=s).raise_for_status()
        # ours: the silences file is the source of truth (an API add rewrites it; 1,000 adds would
        # measure YAML round trips, not alert handling)
        (ours_dir / "alerter-data").mkdir(exist_ok=True)
        (ours_dir / "alerter-data" / "silences.yml").write_text(silences_yaml(args.silences))
        wait_until(lambda: f'cronwatch_alerter_silences{{state="active"}} {float(args.silences)}'
                   in httpx.get(us_url + "/metrics").text, 20, "silences loaded")
        items = alerts(args.alerts)
        expected = args.alerts - len(silenced_indices(args.alerts))
        for who, url in (("am", am.url), ("us", us_url)):
            print(f"posting {len(items)} alerts to {who} ...", file=sys.stderr)
            results[who] = asyncio.run(measure(url, items, args, f"http://127.0.0.1:{sink_port}/{who}", expected))
        if args.ceiling:
            print("measuring the sink's ceiling ...", file=sys.stderr)
            ceilings = [asyncio.run(ceiling(sink_port, args.ceiling, c)) for c in (8, 64)]
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(30)
        us.send_signal(signal.SIGTERM)
        try:
            us.wait(30)
        except subprocess.TimeoutExpired:
            us.kill()
            print("cronwatch alerter did not stop within 30 s", file=sys.stderr)
        am.stop()
    got = json.loads(sink_out.read_text())
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    silenced = silenced_indices(args.alerts)
    print(f"alerts={args.alerts} batch={args.batch} silences={args.silences}"
          + (f" (work dir {work})" if args.keep else ""))
    print(f"{'':12}{'accepted/s':>12}{'median batch/s':>16}{'delivered':>11}{'delivered/s':>13}"
          f"{'p50 ms':>9}{'p99 ms':>9}")
    summary = {}
    for who, name in (("am", "alertmanager"), ("us", "cronwatch")):
        r = results[who]
        arrived = got.get(who, {})
        lat = [(arrived[i] - r["sent"][i]) * 1000 for i in arrived if i in r["sent"]]
        rate = args.alerts / r["wall"]
        summary[who] = (rate, pct(lat, 0.99))
        times = [arrived[i] for i in arrived if i in r["sent"]]
        delivered_rate = len(times) / (max(times) - min(r["sent"].values())) if times else float("nan")
        print(f"{name:12}{rate:12.0f}{statistics.median(r['rates']):16.0f}{len(lat):11d}{delivered_rate:13.0f}"
              f"{pct(lat, 0.5):9.1f}{pct(lat, 0.99):9.1f}")
        wrong = silenced & set(arrived)
        if wrong:
            print(f"  {name}: {len(wrong)} silenced alerts were delivered!")
    print(f"paced: {args.paced_alerts} more alerts at {args.paced_rate:.0f}/s in batches of {args.paced_batch}")
    print(f"{'':12}{'delivered':>11}{'p50 ms':>9}{'p99 ms':>9}")
    for who, name in (("am", "alertmanager"), ("us", "cronwatch")):
        r = results[who]
        arrived = got.get(who, {})
        lat = [(arrived[i] - r["paced_sent"][i]) * 1000 for i in arrived if i in r["paced_sent"]]
        summary[who + "_paced"] = (0.0, pct(lat, 0.99))
        print(f"{name:12}{len(lat):11d}{pct(lat, 0.5):9.1f}{pct(lat, 0.99):9.1f}")
    if ceilings:
        print(f"sink ceiling (lean raw HTTP/1.1 client, {args.ceiling} POSTs): {ceilings[0]:.0f}/s over 8 "
              f"connections, {ceilings[1]:.0f}/s over 64")
    print(f"ratio cronwatch/alertmanager: accepted {summary['us'][0] / summary['am'][0]:.2f}x, "
          f"p99 {summary['us'][1] / summary['am'][1]:.2f}x (storm), "
          f"{summary['us_paced'][1] / summary['am_paced'][1]:.2f}x (paced)  (targets: accepted ≥ 1.0x, p99 ≤ 50 ms)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alerts", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--silences", type=int, default=1000)
    p.add_argument("--paced-alerts", type=int, default=2000, help="alerts of the paced latency run")
    p.add_argument("--paced-rate", type=float, default=500.0, help="alerts/s of the paced latency run")
    p.add_argument("--paced-batch", type=int, default=25, help="batch size of the paced latency run")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, configs)")
    p.add_argument("--drain", type=float, default=60.0, help="at most this long to wait for deliveries")
    p.add_argument("--ceiling", type=int, default=5000,
                   help="POSTs for measuring the sink's own ceiling with a lean client afterwards (0: skip)")
    args = p.parse_args()
    os.environ.setdefault("CRONWATCH_LOG_LEVEL", "error")
    run(args)


if __name__ == "__main__":
    main()
