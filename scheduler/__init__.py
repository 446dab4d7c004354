"""cronwatch's reference scheduler: cron tasks that are observable by construction.

Modules (pure decisions in the middle, I/O at the edges):

* ``triggers``  — schedules via cronsim (Debian cron semantics, DST, ``L``/``#``/names/seconds),
  macros, ``@every <duration>`` on an epoch-anchored grid; pure ``next_after(t)``.
* ``decisions`` — pure: which due slots run or are missed (misfire grace, catch-up), overlap policy, lock TTL.
* ``model``     — ``tasks.yml`` / API task specs (pydantic), errors as ``file:line: field: message``.
* ``engine``    — the run loop: one asyncio loop, a heap of next-fire times, sleeps capped at 30 s.
* ``runs``      — one run: lock, attempts, retries with backoff, records, metrics, history.
* ``execute``   — one attempt: a subprocess in its own process group, or an in-process call.
* ``output``    — a task's stdout/stderr lines → job-log records (JSON kept under ``extra``, tracebacks joined).
* ``joblog``    — the job log contract (shared/DESIGN.md): ECS JSON lines, one ``write`` of whole lines.
* ``state``     — SQLite under ``--state``: API tasks, run history, last fired slot, paused flags.
* ``locks``     — per (task, slot) locks: in-process, or Redis ``SET NX PX`` with token-checked renew/release.
* ``metrics``   — Prometheus families named as in DESIGN.md (label ``task``).
* ``api``       — aiohttp JSON API + ``/metrics`` + ``/healthz``; ``service`` — process wiring, signals, reload.

Metric ``cronwatch_task_runs_total{task,outcome}`` counts finished runs by final outcome:
``success``, ``failure`` (timeouts included) and ``skipped`` (overlap). Job-log lifecycle actions:
``task.started`` ``task.succeeded`` ``task.failed`` ``task.retrying`` ``task.timed_out``
``task.skipped`` ``task.missed``; each line a task prints becomes a record with the run's ``trace.id``.
"""
