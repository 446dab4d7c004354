"""E-mail against a real aiosmtpd: STARTTLS + AUTH, implicit TLS, multipart, threading, failures."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

from fakes.smtp import ScriptedSmtp, start_scripted_smtp
from rcvhelpers import make_alert, make_notification, write_ca

from alerter.config import GlobalConfig
from alerter.model import BuildContext, Outcome
from alerter.receivers.email import EmailConfig
from cronwatch.testing.services import free_port


def config(server: ScriptedSmtp, tmp_path: Path, **kw: object) -> EmailConfig:
    """Alertmanager-style email_configs entry for the scripted server."""
    data = {"to": "oncall@example.com, dba@example.com", "from": "cronwatch@example.com",
            "smarthost": f"127.0.0.1:{server.port}", "auth_username": "cronwatch", "auth_password": "s3cret-pass",
            "tls_config": {"ca_file": write_ca(tmp_path, server.ca_pem)}, "send_resolved": True, **kw}
    return EmailConfig.model_validate(data)


async def test_starttls_auth_multipart_and_headers(smtp_tls: ScriptedSmtp, ctx: BuildContext, tmp_path: Path) -> None:
    """STARTTLS + AUTH; text and HTML parts; Message-Id, Date and thread headers; several recipients."""
    result = await config(smtp_tls, tmp_path, timezone="Asia/Shanghai").build(ctx).notify(make_notification())
    assert result.outcome is Outcome.SENT, result.detail
    [raw] = smtp_tls.messages
    assert raw["tls"] and raw["to"] == ["oncall@example.com", "dba@example.com"]
    [msg] = smtp_tls.parsed()
    assert msg.get_content_type() == "multipart/alternative"
    types = [p.get_content_type() for p in msg.get_payload()]
    assert types == ["text/plain", "text/html"]
    assert msg["Message-Id"].startswith("<") and msg["In-Reply-To"] == msg["References"]
    assert parsedate_to_datetime(msg["Date"]).utcoffset() == timedelta(hours=8)
    assert "[FIRING:1] [critical] TaskFailed db_backup" in msg["Subject"]
    html = msg.get_payload()[1].get_payload(decode=True).decode()
    assert "Runbook" in html and "db_backup failed" in html


async def test_one_group_is_one_thread(smtp_tls: ScriptedSmtp, ctx: BuildContext, tmp_path: Path) -> None:
    """Firing and resolved mails of one group share the thread id, with distinct Message-Ids."""
    integration = config(smtp_tls, tmp_path).build(ctx)
    await integration.notify(make_notification())
    await integration.notify(make_notification([make_alert(resolved=True)]))
    await integration.notify(make_notification(group="other"))
    a, b, c = smtp_tls.parsed()
    assert a["References"] == b["References"] != c["References"]
    assert a["Message-Id"] != b["Message-Id"]
    assert "RESOLVED" in b["Subject"]


async def test_implicit_tls(ctx: BuildContext, tmp_path: Path) -> None:
    """Implicit TLS (SMTPS, the default on port 465) with AUTH delivers over TLS from the first byte."""
    server = start_scripted_smtp(implicit_tls=True, starttls=False, users={"cronwatch": "s3cret-pass"})
    try:
        cfg = config(server, tmp_path, implicit_tls=True)
        result = await cfg.build(ctx).notify(make_notification())
        assert result.outcome is Outcome.SENT, result.detail
        assert server.messages[0]["tls"]
        assert EmailConfig.model_validate({"to": "a@b.c", "smarthost": "mail:465"}).build(ctx).port == 465
    finally:
        server.stop()


async def test_wrong_password_is_permanent_without_the_password(smtp_tls: ScriptedSmtp, ctx: BuildContext, tmp_path: Path) -> None:
    """535 authentication failure is permanent and never shows the password."""
    result = await config(smtp_tls, tmp_path, auth_password="wrong-password-xyz").build(ctx).notify(make_notification())
    assert result.outcome is Outcome.PERMANENT and "authentication" in result.detail
    assert "wrong-password-xyz" not in result.detail


async def test_untrusted_certificate_is_permanent(smtp_tls: ScriptedSmtp, ctx: BuildContext, tmp_path: Path) -> None:
    """Without the test CA the certificate does not verify: permanent, never downgraded."""
    cfg = config(smtp_tls, tmp_path)
    cfg.tls_config = None
    result = await cfg.build(ctx).notify(make_notification())
    assert result.outcome is Outcome.PERMANENT and "certificate" in result.detail
    assert smtp_tls.messages == []


async def test_require_tls_refuses_plain_server(ctx: BuildContext, tmp_path: Path) -> None:
    """A server without STARTTLS is refused when require_tls is true (the default)."""
    server = start_scripted_smtp(starttls=False)
    try:
        cfg = EmailConfig.model_validate({"to": "a@example.com", "from": "c@example.com",
                                          "smarthost": f"127.0.0.1:{server.port}"})
        result = await cfg.build(ctx).notify(make_notification())
        assert result.outcome is Outcome.PERMANENT and "STARTTLS" in result.detail
        cfg2 = EmailConfig.model_validate({"to": "a@example.com", "from": "c@example.com", "require_tls": False,
                                           "smarthost": f"127.0.0.1:{server.port}"})
        assert (await cfg2.build(ctx).notify(make_notification())).outcome is Outcome.SENT
    finally:
        server.stop()


async def test_451_is_retry_and_connection_refused_is_retry(smtp_tls: ScriptedSmtp, ctx: BuildContext, tmp_path: Path) -> None:
    """A 4xx answer to DATA and a refused connection are RETRY."""
    smtp_tls.answer_next_data("451 4.3.0 Try again later")
    integration = config(smtp_tls, tmp_path).build(ctx)
    result = await integration.notify(make_notification())
    assert result.outcome is Outcome.RETRY and "451" in result.detail
    cfg = config(smtp_tls, tmp_path, smarthost=f"127.0.0.1:{free_port()}")
    assert (await cfg.build(ctx).notify(make_notification())).outcome is Outcome.RETRY


async def test_global_smtp_defaults(smtp_tls: ScriptedSmtp, ctx: BuildContext, tmp_path: Path) -> None:
    """Unset keys take global.smtp_* as in Alertmanager."""
    ctx.extra["global"] = GlobalConfig.model_validate({
        "smtp_from": "g@example.com", "smtp_smarthost": f"127.0.0.1:{smtp_tls.port}",
        "smtp_auth_username": "cronwatch", "smtp_auth_password": "s3cret-pass"})
    cfg = EmailConfig.model_validate({"to": "x@example.com", "tls_config": {"ca_file": write_ca(tmp_path, smtp_tls.ca_pem)}})
    result = await cfg.build(ctx).notify(make_notification())
    assert result.outcome is Outcome.SENT, result.detail
    assert smtp_tls.messages[0]["from"] == "g@example.com"


def test_go_template_is_rejected_with_a_clear_message() -> None:
    """A custom Go template in html is reported, not rendered as garbage; Alertmanager's defaults mean the built-in."""
    import pytest

    with pytest.raises(ValueError, match="Go template"):
        EmailConfig.model_validate({"to": "a@example.com", "html": '{{ template "my.html" . }}'})
    with pytest.raises(ValueError, match="Go template"):
        EmailConfig.model_validate({"to": "a@example.com", "text": "{{ .CommonLabels.alertname }}"})
    cfg = EmailConfig.model_validate({"to": "a@example.com", "html": '{{ template "email.default.html" . }}',
                                      "headers": {"Subject": '{{ template "email.default.subject" . }}'}})
    assert cfg.html is None and cfg.headers == {}


async def test_custom_subject_and_failing_html_fall_back(smtp_tls: ScriptedSmtp, ctx: BuildContext, tmp_path: Path) -> None:
    """A custom Subject renders; an HTML template that fails falls back to the built-in and says so."""
    cfg = config(smtp_tls, tmp_path, headers={"Subject": "[{{ m.severity }}] {{ m.title }}"},
                 html="{{ m.groups[0].alerts[0].labels.missing.deeper() }}")
    result = await cfg.build(ctx).notify(make_notification())
    assert result.outcome is Outcome.SENT and "custom template failed" in result.detail
    [msg] = smtp_tls.parsed()
    assert msg["Subject"] == "[critical] TaskFailed db_backup"
    html = msg.get_payload()[1].get_payload(decode=True).decode()
    assert "built-in template was used" in html and "db_backup failed" in html
