"""Receiver rendering cost: building each channel's payload (sandboxed template, byte-limit fitting).

For notifications of 1, 50 and 500 alerts, times ``preview()`` of the WeCom, DingTalk, e-mail and
Sentry integrations (what ``notify`` renders before sending: the Jinja2 sandbox, the binary search
for the most alerts that fit the channel's byte limit, the JSON/MIME/envelope encoding) against the
floor: one render of the same built-in template with no fitting. Prints median µs per payload and
the ratio to the floor. No network; one core.

    .venv/bin/python benchmarks/receivers.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from alerter.model import Alert, BuildContext, Notification  # noqa: E402
from alerter.receivers.dingtalk import DingtalkConfig  # noqa: E402
from alerter.receivers.email import EmailConfig  # noqa: E402
from alerter.receivers.sentry import SentryConfig  # noqa: E402
from alerter.receivers.wecom import WecomConfig  # noqa: E402
from alerter.templating import Templates, ViewOptions, group_view, message_view  # noqa: E402
from cronwatch.clock import FakeClock  # noqa: E402

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def notification(n_alerts: int) -> Notification:
    """One group of ``n_alerts`` firing alerts with Chinese summaries."""
    alerts = [Alert({"alertname": "CronTaskFailed", "severity": "critical", "task": f"任务_{i:04d}"},
                    {"summary": "数据库每日备份失败，请检查磁盘空间", "runbook_url": "https://runbooks.example/x"},
                    NOW - timedelta(minutes=30 + i), NOW + timedelta(minutes=4)) for i in range(n_alerts)]
    return Notification("ops", "{}:{}", {}, alerts, "firing", NOW, common_labels={"alertname": "CronTaskFailed"})


def median_us(fn, repeat: int, inner: int) -> float:  # type: ignore[no-untyped-def]
    """Median over ``repeat`` runs of the mean µs of ``inner`` calls."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        runs.append((time.perf_counter() - t0) / inner * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ctx = BuildContext(http=None, clock=FakeClock(NOW), state_dir=Path(tempfile.mkdtemp()))
    integrations = {
        "wecom": WecomConfig.model_validate({"key": "k-123456", "locale": "zh"}).build(ctx),
        "dingtalk": DingtalkConfig.model_validate({"access_token": "t-123456", "secret": "SECx1234",
                                                   "locale": "zh"}).build(ctx),
        "email": EmailConfig.model_validate({"to": "a@example.com", "from": "c@example.com",
                                             "smarthost": "mail:587", "locale": "zh"}).build(ctx),
        "sentry": SentryConfig.model_validate({"dsn": "https://k1234@sentry.example/1", "locale": "zh"}).build(ctx),
    }
    floor_part = {"wecom": ("wecom", "markdown"), "dingtalk": ("dingtalk", "markdown"),
                  "email": ("email", "html"), "sentry": ("sentry", "message")}
    templates = Templates()
    opts = ViewOptions(locale="zh")
    print(f"{'channel':<9} {'alerts':>6} {'payload µs':>11} {'floor µs':>9} {'ratio':>6}")
    for size in (1, 50, 500):
        n = notification(size)
        inner = max(3, 300 // size)
        for name, integ in integrations.items():
            ours = median_us(lambda integ=integ, n=n: integ.preview(n), args.repeat, inner)
            channel, part = floor_part[name]

            def floor(channel: str = channel, part: str = part, n: Notification = n) -> None:
                templates.render(channel, part, message_view([group_view(n, opts)], NOW, opts))

            base = median_us(floor, args.repeat, inner)
            print(f"{name:<9} {size:>6} {ours:>11.0f} {base:>9.0f} {ours / base:>6.2f}")


if __name__ == "__main__":
    main()
