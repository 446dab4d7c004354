"""Running one attempt of a task: a ``command`` subprocess or an in-process ``call``.

A command runs in its own session (so its own process group); on timeout or cancellation the
whole group gets SIGTERM, then SIGKILL after ``kill_grace``, so no grandchild is left behind.
Each line it writes on stdout/stderr goes to ``on_line(stream, bytes)``. A ``call`` runs in the
event loop when it is a coroutine function, else in a worker thread (a thread cannot be killed:
a timed-out sync call is reported and abandoned). Exceptions never escape: they become the
attempt's error with type, message and stack trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import os
import signal
import traceback
import types
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal

from scheduler.context import CURRENT_RUN, RunContext

Outcome = Literal["success", "failure", "timeout"]
_READ_CHUNK = 65536
_IDLE_FLUSH = 0.5
_PIPE_DRAIN = 2.0


@dataclass
class AttemptResult:
    """How one attempt ended."""

    outcome: Outcome
    error: dict[str, str] | None = None
    exit_code: int | None = None


def error_from_exception(exc: BaseException) -> dict[str, str]:
    """``error.type`` / ``error.message`` / ``error.stack_trace`` of an exception."""
    etype = type(exc)
    name = etype.__qualname__ if etype.__module__ in ("builtins", "__main__") else f"{etype.__module__}.{etype.__qualname__}"
    return {
        "type": name,
        "message": str(exc),
        "stack_trace": "".join(traceback.format_exception(etype, exc, exc.__traceback__)),
    }


def command_argv(command: list[str] | str) -> list[str]:
    """An argv list as is; a string runs through ``/bin/sh -c``."""
    return ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)


def run_env(ctx: RunContext, task_env: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a task's process: ours + the task's + the run's identity."""
    env = dict(os.environ if base is None else base)
    env.update(task_env)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["TRACEPARENT"] = ctx.traceparent
    env["CRONWATCH_TRACE_ID"] = ctx.trace_id
    env["CRONWATCH_RUN_ID"] = ctx.run_id
    env["CRONWATCH_TASK"] = ctx.task
    env["CRONWATCH_ATTEMPT"] = str(ctx.attempt)
    return env


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


async def _pump(reader: asyncio.StreamReader, stream: str, on_line: Callable[[str, bytes | None], None],
                max_bytes: int) -> None:
    """Split a pipe into lines; ``on_line(stream, None)`` means "idle: flush what you hold"."""
    buf = b""
    skipping = False
    while True:
        try:
            chunk = await asyncio.wait_for(reader.read(_READ_CHUNK), _IDLE_FLUSH)
        except TimeoutError:
            on_line(stream, None)
            continue
        if not chunk:
            break
        buf += chunk
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            line, buf = buf[: nl + 1], buf[nl + 1 :]
            if skipping:
                skipping = False
                continue
            on_line(stream, line)
        if len(buf) > max_bytes:
            if not skipping:
                on_line(stream, buf[: max_bytes + 1])  # over the limit: the consumer tags it _truncated
            skipping, buf = True, b""
    if buf and not skipping:
        on_line(stream, buf)
    on_line(stream, None)


async def run_command(command: list[str] | str, ctx: RunContext, *, env: Mapping[str, str],
                      cwd: str | None, time_limit: float | None, kill_grace: float,
                      on_line: Callable[[str, bytes | None], None], max_line_bytes: int = 32768) -> AttemptResult:
    """Run one attempt of a command task; cancellation kills its process group and re-raises."""
    argv = command_argv(command)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=cwd, env=run_env(ctx, env), start_new_session=True,
        )
    except OSError as exc:
        return AttemptResult("failure", {"type": type(exc).__name__,
                                         "message": f"cannot start {argv[0]}: {exc.strerror or exc}"})
    assert proc.stdout is not None and proc.stderr is not None
    pgid = proc.pid
    pumps = [asyncio.ensure_future(_pump(proc.stdout, "stdout", on_line, max_line_bytes)),
             asyncio.ensure_future(_pump(proc.stderr, "stderr", on_line, max_line_bytes))]
    timed_out = False
    try:
        try:
            async with asyncio.timeout(time_limit):
                await proc.wait()
        except TimeoutError:
            timed_out = True
            await _terminate(proc, pgid, kill_grace)
        # the leader is gone; give the pipes a moment to reach EOF (a daemonised child may hold them)
        _done, pending = await asyncio.wait(pumps, timeout=_PIPE_DRAIN)
        for p in pending:
            p.cancel()
        if timed_out:
            _signal_group(pgid, signal.SIGKILL)
    except asyncio.CancelledError:
        await asyncio.shield(_terminate(proc, pgid, kill_grace))
        for p in pumps:
            p.cancel()
        raise
    code = proc.returncode
    if timed_out:
        return AttemptResult("timeout", {"type": "TimeoutError",
                                         "message": f"timed out after {time_limit:g}s; process group killed"}, code)
    if code == 0:
        return AttemptResult("success", None, 0)
    if code is not None and code < 0:
        try:
            sig = signal.Signals(-code).name
        except ValueError:
            sig = str(-code)
        return AttemptResult("failure", {"type": "CalledProcessError", "message": f"killed by signal {sig}"}, code)
    return AttemptResult("failure", {"type": "CalledProcessError", "message": f"exit status {code}"}, code)


async def _terminate(proc: asyncio.subprocess.Process, pgid: int, grace: float) -> None:
    """SIGTERM the group, wait ``grace``, then SIGKILL the group."""
    _signal_group(pgid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        pass
    _signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        await proc.wait()


@dataclass
class CallTarget:
    """A resolved ``call`` function and how to call it."""

    fn: Callable[..., Any]
    is_async: bool
    wants_ctx: bool
    plain: bool = False  # an ``async def`` function: calling it only makes a coroutine, none of its code runs

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> CallTarget:
        """Inspect ``fn`` once: async or not, and whether it takes a ``ctx`` argument."""
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)
        plain = isinstance(fn, types.FunctionType) and bool(fn.__code__.co_flags & inspect.CO_COROUTINE)
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        wants = "ctx" in params or any(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty for p in params.values()
        )
        return cls(fn, is_async, wants, plain)


async def run_call(target: CallTarget, ctx: RunContext, *, time_limit: float | None,
                   executor: Executor | None = None) -> AttemptResult:
    """Run one attempt of an in-process task; exceptions become a failure with their stack."""
    args = (ctx,) if target.wants_ctx else ()
    token = CURRENT_RUN.set(ctx)
    try:
        if target.is_async and time_limit is None:
            await target.fn(*args)
        else:
            async with asyncio.timeout(time_limit):
                if target.is_async:
                    await target.fn(*args)
                else:
                    cvars = contextvars.copy_context()
                    await asyncio.get_running_loop().run_in_executor(executor, cvars.run, target.fn, *args)
    except TimeoutError:
        kind = "coroutine cancelled" if target.is_async else "thread abandoned (threads cannot be killed)"
        return AttemptResult("timeout", {"type": "TimeoutError", "message": f"timed out after {time_limit:g}s; {kind}"})
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # a task's SystemExit/KeyboardInterrupt must not stop the scheduler
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) or isinstance(exc, Exception):
            return AttemptResult("failure", error_from_exception(exc))
        raise
    finally:
        CURRENT_RUN.reset(token)
    return AttemptResult("success")
