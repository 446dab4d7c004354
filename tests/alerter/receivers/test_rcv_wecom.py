"""WeCom group robot: markdown/text payloads, byte limits, mentions, errcodes, the 20/min storm."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fakes.robots import WecomRobot
from rcvhelpers import make_alert, make_notification

from alerter.model import BuildContext, Outcome
from alerter.receivers.wecom import WecomConfig
from cronwatch.clock import FakeClock


def config(robot: WecomRobot, **kw: object) -> WecomConfig:
    """A config pointing at the fake robot."""
    return WecomConfig.model_validate({"webhook_url": f"{robot.url}/cgi-bin/webhook/send?key={robot.key}", **kw})


async def test_markdown_in_chinese_with_timezone(wecom: WecomRobot, ctx: BuildContext) -> None:
    """The zh markdown shows severity, task, summary, start in the receiver's zone and duration."""
    cfg = config(wecom, locale="zh", timezone="Asia/Shanghai")
    result = await cfg.build(ctx).notify(make_notification())
    assert result.outcome is Outcome.SENT, result.detail
    content = wecom.accepted()[0]["markdown"]["content"]
    assert "严重" in content and "db_backup" in content and "db_backup failed" in content
    assert "2026-11-23 09:00:00 CST" in content and "已持续 1小时" in content and "处理手册" in content


async def test_text_with_mentions(wecom: WecomRobot, ctx: BuildContext) -> None:
    """text messages carry mentioned_list and mentioned_mobile_list."""
    cfg = config(wecom, message_type="text", mentioned_list=["@all"], mentioned_mobile_list=["13800000000"])
    result = await cfg.build(ctx).notify(make_notification())
    assert result.outcome is Outcome.SENT, result.detail
    text = wecom.accepted()[0]["text"]
    assert text["mentioned_list"] == ["@all"] and text["mentioned_mobile_list"] == ["13800000000"]


async def test_key_config_builds_documented_url(wecom: WecomRobot, ctx: BuildContext) -> None:
    """Giving only ``key`` builds ``<api_url>?key=KEY``."""
    cfg = WecomConfig.model_validate({"key": wecom.key, "api_url": f"{wecom.url}/cgi-bin/webhook/send"})
    assert (await cfg.build(ctx).notify(make_notification())).outcome is Outcome.SENT


async def test_invalid_key_is_permanent_and_redacted(wecom: WecomRobot, ctx: BuildContext) -> None:
    """errcode 93000 (invalid webhook url) is permanent; the key appears nowhere in the result."""
    integration = WecomConfig.model_validate(
        {"webhook_url": f"{wecom.url}/cgi-bin/webhook/send?key=secret-wrong-key-42"}).build(ctx)
    result = await integration.notify(make_notification())
    assert result.outcome is Outcome.PERMANENT and "93000" in result.detail
    assert "secret-wrong-key-42" not in repr(result) and "secret-wrong-key-42" not in integration.target()


async def test_markdown_cut_to_4096_bytes_on_line_boundary(wecom: WecomRobot, ctx: BuildContext) -> None:
    """100 Chinese alerts are cut to ≤ 4096 UTF-8 bytes, on a line boundary, saying how many were left out."""
    alerts = [make_alert(task=f"备份任务_{i:03d}", summary="数据库每日备份失败，请检查磁盘空间") for i in range(100)]
    result = await config(wecom, locale="zh").build(ctx).notify(make_notification(alerts))
    assert result.outcome is Outcome.SENT, result.detail
    content = wecom.accepted()[0]["markdown"]["content"]
    assert len(content.encode()) <= 4096 < sum(len(a.annotations["summary"].encode()) for a in alerts) * 2
    assert "条告警未显示" in content
    omitted = int(content.split("另有 ")[1].split(" 条")[0])
    shown = content.count("备份任务_")
    assert shown + omitted == 100


async def test_text_cut_to_2048_bytes(wecom: WecomRobot, ctx: BuildContext) -> None:
    """text content stays within 2048 bytes."""
    alerts = [make_alert(task=f"t{i}", summary="x" * 120) for i in range(60)]
    result = await config(wecom, message_type="text").build(ctx).notify(make_notification(alerts))
    assert result.outcome is Outcome.SENT, result.detail
    assert len(wecom.accepted()[0]["text"]["content"].encode()) <= 2048


async def test_storm_is_merged_not_dropped(wecom: WecomRobot, ctx: BuildContext, clock: FakeClock) -> None:
    """50 groups in one minute: never a 45009, ≤ 20 messages a minute, every group delivered in a summary."""
    integration = config(wecom, message_type="markdown").build(ctx)
    notes = [make_notification([make_alert(task=f"job_{i:02d}")], group=f"g{i}") for i in range(50)]
    first = [await integration.notify(n) for n in notes]
    assert [r.outcome for r in first[:20]] == [Outcome.SENT] * 20
    assert all(r.outcome is Outcome.RETRY and r.retry_after for r in first[20:])
    clock.advance(first[-1].retry_after or 60)
    for _ in range(50):  # let the summary timer run
        await asyncio.sleep(0)
        if integration.storm_summaries:
            break
    again = [await integration.notify(n) for n in notes[20:]]
    assert all(r.outcome is Outcome.SENT and "storm summary" in r.detail for r in again)
    assert all(r.errcode == 0 for r in wecom.received)
    summary = wecom.accepted()[-1]["markdown"]["content"]
    assert "Alert storm: 30 groups" in summary
    shown = sum(f"job_{i:02d}" in summary for i in range(20, 50))
    omitted = int(summary.split("… ")[1].split(" more")[0]) if "more alert" in summary else 0
    assert shown + omitted == 30 and shown == 30  # compact storm lines: all 30 groups fit in 4096 bytes
    await integration.aclose()


async def test_server_rate_limit_is_retried(wecom: WecomRobot, ctx: BuildContext, clock: FakeClock) -> None:
    """If the robot still answers 45009 (shared with another sender), it is RETRY, and a later summary delivers it."""
    integration = config(wecom).build(ctx)
    for _ in range(20):
        wecom.over_limit(wecom.key)  # another sender used the robot's minute
    n = make_notification()
    result = await integration.notify(n)
    assert result.outcome is Outcome.RETRY and "45009" in result.detail and result.retry_after
    clock.advance(61)
    await asyncio.sleep(0)
    retried = await integration.notify(n)
    assert retried.outcome is Outcome.SENT
    await integration.aclose()


async def test_5xx_is_retry(wecom: WecomRobot, ctx: BuildContext) -> None:
    """HTTP 502 from the robot is a RETRY."""
    wecom.fail_next(502, b"bad gateway")
    result = await config(wecom).build(ctx).notify(make_notification())
    assert result.outcome is Outcome.RETRY and "502" in result.detail


async def test_buffered_group_is_superseded_by_newer_state(wecom: WecomRobot, ctx: BuildContext, clock: FakeClock) -> None:
    """While rate limited, a newer notification of the same group replaces the buffered one in the summary."""
    integration = config(wecom).build(ctx)
    for i in range(20):
        await integration.notify(make_notification([make_alert(task=f"t{i}")], group=f"g{i}"))
    old = make_notification([make_alert(task="flappy")], group="flap")
    new = make_notification([make_alert(task="flappy", resolved=True)], group="flap")
    other = make_notification([make_alert(task="other")], group="other")
    assert (await integration.notify(old)).outcome is Outcome.RETRY
    assert (await integration.notify(new)).outcome is Outcome.RETRY
    assert (await integration.notify(other)).outcome is Outcome.RETRY
    assert (await integration.notify(old)).detail.startswith("superseded")
    clock.advance(62)
    result = await integration.notify(new)  # the engine's retry sends the summary itself
    assert result.outcome is Outcome.SENT and "storm summary" in result.detail
    summary = wecom.accepted()[-1]["markdown"]["content"]
    assert "2 groups" in summary and "resolved" in summary and "other" in summary
    assert (await integration.notify(other)).outcome is Outcome.SENT
    assert len(wecom.accepted()) == 21
    await integration.aclose()


async def test_tls_is_verified_with_a_configured_ca(ctx: BuildContext, tmp_path: Path) -> None:
    """HTTPS to a robot with a private CA works when the CA is configured and is PERMANENT when it is not."""
    from cronwatch.testing.services import make_tls_pair

    server_ctx, ca_pem = make_tls_pair()
    robot = await WecomRobot().start(ssl_context=server_ctx)
    try:
        (tmp_path / "ca.pem").write_bytes(ca_pem)
        url = f"{robot.url}/cgi-bin/webhook/send?key={robot.key}"
        trusted = WecomConfig.model_validate({"webhook_url": url, "http_config": {"tls_config": {"ca_file": "ca.pem"}}})
        integration = trusted.build(ctx)
        assert (await integration.notify(make_notification())).outcome is Outcome.SENT
        await integration.aclose()
        untrusted = WecomConfig.model_validate({"webhook_url": url})
        result = await untrusted.build(ctx).notify(make_notification())
        assert result.outcome is Outcome.PERMANENT and "certificate" in result.detail
        assert robot.key not in result.detail
    finally:
        await robot.stop()
