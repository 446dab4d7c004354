"""Python-style example task: ``logging`` lines, and now and then an exception with its traceback."""

import logging
import os
import random
import sys

logging.basicConfig(format="%(asctime)s %(levelname)s [%(name)s] %(message)s", level=logging.INFO,
                    stream=sys.stderr)
log = logging.getLogger("report")
trace = os.environ.get("CRONWATCH_TRACE_ID", "-")


def fetch_rows() -> list[int]:
    """Pretend to query a database that is sometimes locked."""
    if random.random() < 0.3:
        import sqlite3
        raise sqlite3.OperationalError("database is locked")
    return list(range(random.randint(100, 2000)))


log.info("generating daily report trace_id=%s", trace)
try:
    rows = fetch_rows()
except Exception:
    log.exception("task failed trace_id=%s", trace)
    sys.exit(1)
log.info("report done rows=%d", len(rows))
