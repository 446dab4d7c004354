"""Healthy example task: a couple of logfmt lines, exit 0."""

import os
import random

trace = os.environ.get("CRONWATCH_TRACE_ID", "-")
print(f'level=info msg="heartbeat" queue_depth={random.randint(0, 40)} trace_id={trace}')
print('level=info msg="all upstreams reachable" upstreams=3')
