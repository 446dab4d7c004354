"""The job log file: whole JSON lines from many threads, reopening after rotation, the timestamp format."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

from cronwatch.jsonlog import format_ts as kernel_format_ts
from scheduler.context import IdBatch, new_run_id
from scheduler.joblog import JobLog, format_ts


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    """Eight threads writing 500 records each produce 4000 complete JSON lines."""
    log = JobLog(tmp_path / "tasks.log", host_name="h")

    def writer(n: int) -> None:
        for i in range(500):
            log.write({"message": f"{n}-{i}", "pad": "x" * random.randint(0, 5000)})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    lines = (tmp_path / "tasks.log").read_text().splitlines()
    assert len(lines) == 4000
    assert len({json.loads(line)["message"] for line in lines}) == 4000


def test_reopens_after_rotation(tmp_path: Path) -> None:
    """After logrotate moves the file away, the next check reopens a fresh file at the path."""
    path = tmp_path / "tasks.log"
    log = JobLog(path, host_name="h")
    log.write({"message": "before"})
    path.rename(tmp_path / "tasks.log.1")
    log.write({"message": "still to the old inode"})
    assert log.reopen_if_moved(every=0)
    log.write({"message": "after"})
    log.close()
    assert [json.loads(x)["message"] for x in path.read_text().splitlines()] == ["after"]
    assert len((tmp_path / "tasks.log.1").read_text().splitlines()) == 2


def test_fast_timestamp_matches_the_kernel_format() -> None:
    """The cached formatter agrees with cronwatch.jsonlog.format_ts to the millisecond."""
    rng = random.Random(7)
    for _ in range(20000):
        ts = rng.uniform(0, 4e9) if rng.random() < 0.5 else round(rng.uniform(0, 4e9), 3)
        assert format_ts(ts) == kernel_format_ts(ts)


def test_run_ids_are_ulids_and_batches_are_unique() -> None:
    """Run ids are 26-character ULIDs sortable by time; a batch gives distinct trace/span/run ids."""
    early, late = new_run_id(1_800_000_000.0), new_run_id(1_800_000_001.0)
    assert len(early) == 26 and early[:10] < late[:10]
    batch = IdBatch(1000, 1_800_000_000.0)
    ids = [batch.take() for _ in range(1000)]
    assert len({t for t, _s, _r in ids}) == 1000 and len({r for _t, _s, r in ids}) == 1000
    assert all(len(t) == 32 and len(s) == 16 and r[:10] == early[:10] for t, s, r in ids)
