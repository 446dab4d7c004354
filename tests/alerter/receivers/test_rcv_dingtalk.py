"""DingTalk custom robot: signature, timestamp window, keywords, message types, errcodes."""

from __future__ import annotations

from fakes.robots import DingtalkRobot
from rcvhelpers import make_alert, make_notification

from alerter.model import BuildContext, Outcome
from alerter.receivers.dingtalk import DingtalkConfig, sign
from cronwatch.clock import FakeClock


def config(robot: DingtalkRobot, **kw: object) -> DingtalkConfig:
    """A config pointing at the fake robot."""
    data = {"webhook_url": f"{robot.url}/robot/send?access_token={robot.token}", "secret": robot.secret, **kw}
    return DingtalkConfig.model_validate(data)


def test_signature_matches_documented_example() -> None:
    """The signature is base64(HMAC-SHA256(secret, "ts\\nsecret")), URL-encoded."""
    import base64
    import hashlib
    import hmac
    import urllib.parse

    ts, secret = 1700000000000, "SECabc"
    expected = urllib.parse.quote_plus(base64.b64encode(
        hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode())
    assert sign(secret, ts) == expected


async def test_signed_markdown_is_accepted(dingtalk: DingtalkRobot, ctx: BuildContext) -> None:
    """A signed markdown message reaches the robot with title, text, severity and links."""
    result = await config(dingtalk, kibana_base_url="http://kibana:5601").build(ctx).notify(make_notification())
    assert result.outcome is Outcome.SENT, result.detail
    [payload] = dingtalk.accepted()
    assert payload["msgtype"] == "markdown"
    text = payload["markdown"]["text"]
    assert "critical" in text and "db_backup" in text and "Runbook" in text and "app/discover" in text
    assert payload["markdown"]["title"].startswith("🔴 [FIRING]")


async def test_wrong_secret_is_permanent_and_not_leaked(dingtalk: DingtalkRobot, ctx: BuildContext) -> None:
    """A badly passed secret (310000 sign not match) is a permanent failure that names no secret."""
    result = await config(dingtalk, secret="SECwrong-secret-value-123").build(ctx).notify(make_notification())
    assert result.outcome is Outcome.PERMANENT
    assert "310000" in result.detail and "SECwrong" not in result.detail and dingtalk.token not in result.detail


async def test_timestamp_outside_window_is_rejected(dingtalk: DingtalkRobot, ctx: BuildContext, clock: FakeClock) -> None:
    """DingTalk rejects a timestamp more than an hour off (our clock is wrong): permanent 310000."""
    integration = config(dingtalk).build(ctx)
    dingtalk.time = lambda: clock.time() + 2 * 3600
    result = await integration.notify(make_notification())
    assert result.outcome is Outcome.PERMANENT and "invalid timestamp" in result.detail


async def test_unknown_token_is_permanent(dingtalk: DingtalkRobot, ctx: BuildContext) -> None:
    """An access token the robot does not know (300001) is permanent."""
    cfg = DingtalkConfig.model_validate({"webhook_url": f"{dingtalk.url}/robot/send?access_token=nope-1234",
                                         "secret": dingtalk.secret})
    result = await cfg.build(ctx).notify(make_notification())
    assert result.outcome is Outcome.PERMANENT and "300001" in result.detail and "nope-1234" not in result.detail


async def test_keyword_is_added_when_missing(ctx: BuildContext, clock: FakeClock) -> None:
    """With the keyword security setting, a message lacking every keyword gets one appended."""
    robot = await DingtalkRobot(time=clock.time, keywords=["监控报警"]).start()
    try:
        cfg = DingtalkConfig.model_validate({"access_token": robot.token, "api_url": f"{robot.url}/robot/send",
                                             "keywords": ["监控报警"], "locale": "zh"})
        result = await cfg.build(ctx).notify(make_notification())
        assert result.outcome is Outcome.SENT, result.detail
        assert "监控报警" in robot.accepted()[0]["markdown"]["text"]
        assert "告警中" in robot.accepted()[0]["markdown"]["text"]
    finally:
        await robot.stop()


async def test_action_card_has_view_logs_button_and_mentions(dingtalk: DingtalkRobot, ctx: BuildContext) -> None:
    """actionCard carries a "view logs" button to Kibana; at_mobiles are mentioned in the text and "at"."""
    cfg = config(dingtalk, message_type="actionCard", kibana_base_url="https://kibana.example",
                 at_mobiles=["13800000000"], locale="zh")
    result = await cfg.build(ctx).notify(make_notification())
    assert result.outcome is Outcome.SENT, result.detail
    [payload] = dingtalk.accepted()
    card = payload["actionCard"]
    assert card["singleTitle"] == "查看日志" and card["singleURL"].startswith("https://kibana.example/app/discover")
    assert "@13800000000" in card["text"] and payload["at"]["atMobiles"] == ["13800000000"]


async def test_body_cut_to_20000_bytes_with_count(dingtalk: DingtalkRobot, ctx: BuildContext) -> None:
    """A 300-alert group is cut under DingTalk's 20000-byte body limit, saying how many were left out."""
    alerts = [make_alert(task=f"任务_{i:03d}", summary="数据库备份失败 " * 8) for i in range(300)]
    result = await config(dingtalk, locale="zh").build(ctx).notify(make_notification(alerts))
    assert result.outcome is Outcome.SENT, result.detail
    rec = dingtalk.received[-1]
    assert len(rec.body) <= 20000
    assert "条告警未显示" in rec.payload["markdown"]["text"]


async def test_secret_passed_badly_is_fixed_or_reported(dingtalk: DingtalkRobot, ctx: BuildContext) -> None:
    """A secret with a trailing newline and a URL with a stale timestamp/sign still sign correctly; a token as secret is a config error."""
    import pytest

    assert dingtalk.secret is not None
    url = f"{dingtalk.url}/robot/send?access_token={dingtalk.token}&timestamp=1&sign=stale"
    cfg = DingtalkConfig.model_validate({"webhook_url": url, "secret": dingtalk.secret + "\n"})
    assert (await cfg.build(ctx).notify(make_notification())).outcome is Outcome.SENT
    with pytest.raises(ValueError, match="starts with SEC"):
        DingtalkConfig.model_validate({"webhook_url": url, "secret": dingtalk.token})
    with pytest.raises(ValueError, match="no access_token"):
        DingtalkConfig.model_validate({"webhook_url": f"{dingtalk.url}/robot/send"})


async def test_storm_summary_is_signed_and_never_hits_130101(dingtalk: DingtalkRobot, ctx: BuildContext,
                                                              clock: FakeClock) -> None:
    """25 groups in a minute: 20 single messages, then one signed zh summary of the other 5 — no 130101."""
    import asyncio

    integration = config(dingtalk, locale="zh").build(ctx)
    results = [await integration.notify(make_notification([make_alert(task=f"任务{i}")], group=f"g{i}"))
               for i in range(25)]
    assert sum(r.outcome is Outcome.SENT for r in results) == 20
    clock.advance(61.5)
    for _ in range(50):
        await asyncio.sleep(0)
        if integration.storm_summaries:
            break
    assert integration.storm_summaries == 1
    summary = dingtalk.accepted()[-1]["markdown"]["text"]
    assert "告警风暴：5 组" in summary and all(f"任务{i}" in summary for i in range(20, 25))
    assert all(r.errcode == 0 for r in dingtalk.received)
    await integration.aclose()
