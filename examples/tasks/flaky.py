"""Flaky example task: fails about half of its attempts (the scheduler retries it)."""

import os
import random
import sys

attempt = os.environ.get("CRONWATCH_ATTEMPT", "1")
print(f"syncing inventory (attempt {attempt})", flush=True)
if random.random() < 0.5:
    print("ERROR upstream returned 503 Service Unavailable", file=sys.stderr)
    sys.exit(75)
print("inventory synced: 42 items")
