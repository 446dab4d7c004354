"""Start a run's coroutine inside the tick, finish it later in its own task ("eager start").

When thousands of runs share a slot, the last one's lateness is the sum of the work done for the
ones before it. Waking a parked asyncio task costs a loop callback and a task step, and Python
3.11 has no eager tasks (3.12's ``eager_start``), so the tick itself takes the first step of each
``async`` call: it makes the run's own (already created, parked) task the current task, runs the
coroutine up to its first suspension in that task's context, and hands the suspended coroutine
(or its result, or its exception) to the task, which continues it after the whole burst has
started. For the task's code nothing differs: ``asyncio.current_task()`` is its run's task and its
context variables are that task's.

:func:`first_step` does this for any ``async`` call. For a plain ``async def`` function the run loop
does it inline with everything made ahead (:class:`scheduler.entries.Armed`, which is its own
:class:`Started`): per run it only enters the task (:data:`enter_task`), sends ``None`` to the
coroutine in the run's context and leaves the task again.

Uses ``asyncio.tasks._enter_task`` / ``_leave_task``, the private helpers asyncio uses to mark the
task it is stepping; where they are missing, :data:`SUPPORTED` is false and runs are started by
waking their task.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Generator
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from scheduler.context import CURRENT_RUN, RunContext

if TYPE_CHECKING:
    from scheduler.entries import Armed

try:
    from asyncio.tasks import _enter_task, _leave_task

    SUPPORTED = True
except ImportError:  # pragma: no cover - every CPython from 3.7 to 3.14 has them
    SUPPORTED = False
    _enter_task = _leave_task = None  # type: ignore[assignment]

enter_task: Callable[[Any, Any], None] = _enter_task  # (loop, task): make ``task`` the loop's current task
leave_task: Callable[[Any, Any], None] = _leave_task


class Started:
    """A coroutine whose first step already ran; awaiting this continues it (or returns or raises
    what the first step ended with), exactly as awaiting the coroutine itself would have."""

    __slots__ = ("_cancel", "_exc", "_it", "_result", "_yielded", "token")

    def __init__(self) -> None:
        self._it: Any = None  # the coroutine's iterator while it is suspended
        self._yielded: Any = None
        self._result: Any = None
        self._exc: BaseException | None = None
        self._cancel = False
        self.token: contextvars.Token[RunContext | None] | None = None  # CURRENT_RUN, reset by the run

    def __await__(self) -> Generator[Any, Any, Any]:
        if self._exc is not None:
            exc, self._exc = self._exc, None
            raise exc
        it, value = self._it, self._yielded
        self._it = self._yielded = None
        if it is None:
            return self._result
        if self._cancel:  # as a task cancelled while its coroutine waits: raise where it waits
            try:
                value = it.throw(asyncio.CancelledError())
            except StopIteration as stop:
                return stop.value
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                it.close()
                raise
            except BaseException as exc:  # cancellation and anything thrown in: pass it to the coroutine
                try:
                    value = it.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = it.send(sent)
                except StopIteration as stop:
                    return stop.value

    def cancel(self) -> None:
        """The run's task was cancelled before it continued the call: the call sees the cancellation
        at the point it waits (or, when its first step already ended, the run ends as cancelled)."""
        if self._it is not None:
            self._cancel = True
        elif self._exc is None:
            self._exc = asyncio.CancelledError()


def first_step(armed: Armed, current: asyncio.Task[Any] | None, fn: Callable[..., Any],
               args: tuple[Any, ...]) -> Started:
    """Run ``fn(*args)`` up to its first suspension as if the armed run's task ran it; call it in that
    task's context (``armed.context.run(first_step, ...)``). ``current`` is the task running the
    caller (the run loop), made current again afterwards."""
    task = armed.task
    assert task is not None
    loop = task.get_loop()
    started = Started()
    if current is not None:
        _leave_task(loop, current)
    _enter_task(loop, task)
    try:
        started.token = CURRENT_RUN.set(armed.ctx)
        coro = fn(*args)
        it = coro if type(coro) is CoroutineType else coro.__await__()
        started._yielded = it.send(None)
        started._it = it
    except StopIteration as stop:
        started._result = stop.value
    except BaseException as exc:  # delivered where the run awaits the call, like any exception of the call
        started._exc = exc
    finally:
        _leave_task(loop, task)
        if current is not None:
            _enter_task(loop, current)
    return started
