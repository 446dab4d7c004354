"""A job for the end-to-end test: logs like Python's logging; fails with a traceback while
``$E2E_DIR/<name>.fail`` exists."""

import logging
import os
import sys
from pathlib import Path

logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
log = logging.getLogger(sys.argv[1])
log.setLevel(logging.INFO)
log.info("starting %s trace_id=%s", sys.argv[1], os.environ.get("CRONWATCH_TRACE_ID", ""))


def load_rows() -> list[int]:
    raise ConnectionError("database is unreachable")


if (Path(os.environ["E2E_DIR"]) / f"{sys.argv[1]}.fail").exists():
    try:
        load_rows()
    except ConnectionError:
        log.exception("task failed")
    sys.exit(1)
log.info("done")
