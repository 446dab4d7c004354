"""Property: whatever the sequence of notifications and pauses, a robot never exceeds its limit and nothing is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from fakes.robots import WecomRobot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rcvhelpers import NOW, make_alert, make_notification

from alerter.model import BuildContext, Notification, Outcome
from alerter.receivers.wecom import WecomConfig
from cronwatch.clock import FakeClock

STEPS = st.lists(st.one_of(
    st.tuples(st.just("notify"), st.integers(min_value=0, max_value=40), st.booleans()),
    st.tuples(st.just("advance"), st.floats(min_value=0.5, max_value=40), st.just(False)),
), min_size=1, max_size=80)


async def scenario(steps: list[tuple[str, Any, bool]], tmp: Path) -> None:
    """Run ``steps`` against a fake WeCom robot sharing the fake clock, retrying like the engine does."""
    clock = FakeClock(NOW)
    robot = await WecomRobot(time=clock.time).start()
    async with httpx.AsyncClient() as http:
        ctx = BuildContext(http=http, clock=clock, state_dir=tmp)
        integration = WecomConfig.model_validate({"webhook_url": f"{robot.url}/cgi-bin/webhook/send?key={robot.key}",
                                                  "message_type": "text"}).build(ctx)
        waiting: list[tuple[float, Notification]] = []  # (retry at, notification), as the engine's retries
        done: list[Notification] = []

        async def attempt(n: Notification) -> None:
            r = await integration.notify(n)
            assert r.outcome is not Outcome.PERMANENT, r.detail
            if r.outcome is Outcome.RETRY:
                waiting.append((clock.monotonic() + (r.retry_after or 1.0), n))
            else:
                done.append(n)

        async def tick(seconds: float) -> None:
            clock.advance(seconds)
            for _ in range(5):
                await asyncio.sleep(0)
            due = [n for t, n in waiting if t <= clock.monotonic()]
            waiting[:] = [(t, n) for t, n in waiting if t > clock.monotonic()]
            for n in due:
                await attempt(n)

        sent: list[Notification] = []
        for kind, value, resolved in steps:
            if kind == "notify":
                n = make_notification([make_alert(task=f"job{value}", resolved=resolved)], group=f"g{value}",
                                      now=NOW)
                sent.append(n)
                await attempt(n)
            else:
                await tick(value)
        for _ in range(10):  # quiet time: every retry comes due and is answered
            await tick(62)
        await integration.aclose()
    await robot.stop()
    assert all(r.errcode == 0 for r in robot.received), "the robot refused a message (45009 or a size limit)"
    assert not waiting and len(done) == len(sent)
    delivered = "".join(p["text"]["content"] for p in robot.accepted())
    for n in sent:  # every group reached the robot, alone or in a summary (latest state per group)
        assert n.alerts[0].labels["task"] in delivered


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_storms_never_exceed_the_limit_and_lose_nothing(steps: list[tuple[str, Any, bool]], tmp_path: Path) -> None:
    """Random bursts and pauses: no 45009, every notification ends SENT, every group is delivered."""
    loop = asyncio.new_event_loop()  # not asyncio.run: it would replace pytest-asyncio's current loop
    try:
        loop.run_until_complete(scenario(steps, tmp_path))
    finally:
        loop.close()
