"""Go-style example task: output like Go's ``log`` package and logrus (text and JSON), sometimes a panic."""

import json
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8))
trace = os.environ.get("CRONWATCH_TRACE_ID", "0" * 32)


def stamp() -> str:
    """Go's log default layout: 2006/01/02 15:04:05 (local time, no zone)."""
    return datetime.now(CST).strftime("%Y/%m/%d %H:%M:%S")


print(f"{stamp()} 开始同步订单 trace_id={trace}", flush=True)
now = datetime.now(CST).isoformat(timespec="seconds")
print(f'time="{now}" level=info msg="fetching orders" task=sync_orders trace_id={trace}', flush=True)
rows = random.randint(100, 5000)
time.sleep(random.random() / 2)
print(json.dumps({"level": "info", "msg": "sync done", "task": "sync_orders", "time": now,
                  "trace_id": trace, "rows": rows}, ensure_ascii=False), flush=True)
if random.random() < 0.25:
    print(f'time="{now}" level=warning msg="slow query" task=sync_orders duration=1.2s rows={rows}', flush=True)
    sys.stderr.write(
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]\n\n"
        "goroutine 18 [running]:\n"
        "main.syncOrders(0x0)\n\t/app/orders/sync.go:27 +0x2c\n"
        "main.main.func1()\n\t/app/orders/main.go:14 +0x25\n"
        "created by github.com/robfig/cron/v3.(*Cron).startJob in goroutine 7\n"
        "\t/go/pkg/mod/github.com/robfig/cron/v3@v3.0.1/cron.go:312 +0x6a\n"
    )
    sys.exit(2)
print(f"{stamp()} 订单同步完成 rows={rows}", flush=True)
