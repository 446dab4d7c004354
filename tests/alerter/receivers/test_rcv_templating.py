"""Templates: sandbox, built-ins in both locales, time zones, durations, Kibana links, fallback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rcvhelpers import NOW, make_alert, make_notification

from alerter.model import Alert
from alerter.receivers._common import MessageOptions
from alerter.templating import (
    LOCALES,
    MessageView,
    TemplateProblem,
    Templates,
    ViewOptions,
    group_view,
    human_duration,
    kibana_discover_url,
    message_view,
)

CHANNEL_PARTS = [("wecom", "markdown"), ("wecom", "text"), ("dingtalk", "markdown"), ("dingtalk", "title"),
                 ("email", "subject"), ("email", "text"), ("email", "html"), ("sentry", "message"), ("sentry", "title")]


def view(locale: str = "en", tz: str = "UTC", kibana: str = "", alerts: list[Alert] | None = None) -> MessageView:
    """A message view of one group."""
    opts = ViewOptions(locale=locale, timezone=tz, kibana_base_url=kibana)
    return message_view([group_view(make_notification(alerts), opts)], NOW, opts)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("channel", "part"), CHANNEL_PARTS)
def test_every_builtin_renders(channel: str, part: str, locale: str) -> None:
    """Every built-in template renders in both locales and names the alert."""
    text = Templates().render(channel, part, view(locale)).text
    assert "TaskFailed" in text


def test_start_time_in_receiver_zone_and_duration() -> None:
    """Start time is printed in the receiver's zone and the firing duration is human."""
    text = Templates().render("wecom", "text", view("en", "America/New_York")).text
    assert "2026-11-22 20:00:00 EST" in text and "firing for 1h" in text
    assert human_duration(timedelta(days=1, hours=2, minutes=3), "zh") == "1天2小时"
    assert human_duration(timedelta(seconds=0), "en") == "0s"


def test_kibana_link_by_trace_id_then_task() -> None:
    """The Kibana link searches trace.id when the alert has one, else task.name; an annotation wins."""
    traced = make_alert(trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    v = view(kibana="https://kibana.example", alerts=[traced, make_alert(task="other")])
    first, second = v.groups[0].alerts
    assert "trace.id" in first.kibana_url and "4bf92f3577b34da6a3ce929d0e0e4736" in first.kibana_url
    assert "task.name" in second.kibana_url
    annotated = make_alert()
    annotated.annotations["kibana_url"] = "https://k/x"
    assert view(kibana="https://kibana.example", alerts=[annotated]).groups[0].alerts[0].kibana_url == "https://k/x"
    url = kibana_discover_url("https://k/", "task.name:\"it's\"", NOW, None)
    assert url.startswith("https://k/app/discover#/?_g=") and "it%21%27s" in url  # rison escapes the quote as !'


def test_sandbox_blocks_unsafe_access() -> None:
    """A custom template cannot reach Python internals: it fails and the built-in is used, saying so."""
    t = Templates()
    evil = t.compile("{{ m.__class__.__init__.__globals__ }}")
    r = t.render("wecom", "text", view(), evil)
    assert r.fallback and "SecurityError" in r.fallback and "__globals__" not in r.text
    assert "built-in template was used" in r.text and "TaskFailed" in r.text


def test_failing_custom_template_falls_back_in_chinese() -> None:
    """A custom template raising at render time never drops the message; the zh note says so."""
    t = Templates()
    r = t.render("dingtalk", "markdown", view("zh"), t.compile("{{ 1 / 0 }}"))
    assert r.fallback and "ZeroDivisionError" in r.fallback and "已改用内置模板" in r.text and "告警中" in r.text


def test_custom_template_renders() -> None:
    """A working custom template is used as written."""
    t = Templates()
    r = t.render("wecom", "text", view(), t.compile("{% for a in m.alerts %}{{ a.task }}|{{ a.severity }}{% endfor %}"))
    assert r.text == "db_backup|critical" and r.fallback is None


def test_syntax_error_is_reported_at_load_with_line() -> None:
    """A template that does not compile is a config error naming the template line."""
    with pytest.raises(TemplateProblem):
        Templates().compile("ok\n{% for x in %}")
    with pytest.raises(ValueError, match="template line 2"):
        MessageOptions.model_validate({"template": "ok\n{% for x in %}"})


def test_unknown_timezone_is_rejected() -> None:
    """A misspelt time zone is a config error naming the value."""
    with pytest.raises(ValueError, match="Asia/Shanghia"):
        MessageOptions.model_validate({"timezone": "Asia/Shanghia"})


def test_html_is_escaped_but_markdown_is_not() -> None:
    """Label values are HTML-escaped in mail HTML (no injection) and kept as-is in chat text."""
    evil = make_alert(summary="<script>alert(1)</script>")
    t = Templates()
    assert "&lt;script&gt;" in t.render("email", "html", view(alerts=[evil])).text
    assert "<script>" in t.render("wecom", "text", view(alerts=[evil])).text
