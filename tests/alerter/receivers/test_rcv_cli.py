"""``cronwatch alerter render`` prints exactly what would be sent; ``cronwatch alerter status`` shows last results."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from click.testing import CliRunner

from cronwatch.cli import cli

CONFIG = """\
global:
  smtp_from: cronwatch@example.com
  smtp_smarthost: mail.example.com:587
  smtp_auth_username: cronwatch
  smtp_auth_password: smtp-password-123
route:
  receiver: ops
receivers:
  - name: ops
    wecom_configs:
      - key: wecom-key-0000-1111
        locale: zh
        timezone: Asia/Shanghai
    dingtalk_configs:
      - access_token: dt-token-2222
        secret: SECdingtalk-secret-3333
        message_type: actionCard
        kibana_base_url: https://kibana.example.com
    email_configs:
      - to: oncall@example.com, dba@example.com
    sentry_configs:
      - dsn: https://sentrykey4444@sentry.example.com/7
    webhook_configs:
      - url: https://hooks.example.com/alert
  - name: custom
    wecom_configs:
      - key: wecom-key-0000-1111
        message_type: text
        template: "{{ m.nope.boom() }}"
"""
SECRETS = ["wecom-key-0000-1111", "dt-token-2222", "SECdingtalk-secret-3333", "smtp-password-123", "sentrykey4444"]


def write_config(tmp_path: Path) -> Path:
    """Write the sample alerter.yml."""
    path = tmp_path / "alerter.yml"
    path.write_text(CONFIG)
    return path


def test_render_prints_every_integration_without_secrets(tmp_path: Path) -> None:
    """render prints the robot JSON, the MIME mail, the Sentry envelope and the webhook body; no secret."""
    result = CliRunner().invoke(cli, ["alerter", "render", "--config", str(write_config(tmp_path)), "--receiver", "ops"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert '"msgtype": "markdown"' in out and "严重" in out and "CST" in out
    assert '"msgtype": "actionCard"' in out and "https://kibana.example.com/app/discover" in out
    assert "Content-Type: multipart/alternative" in out and "To: oncall@example.com, dba@example.com" in out
    assert '"type":"event"' in out and '"fingerprint"' in out
    assert '"version": "4"' in out
    for secret in SECRETS:
        assert secret not in out


def test_render_with_alerts_file_and_fallback_warning(tmp_path: Path) -> None:
    """--alerts takes a webhook payload; a failing custom template is rendered with the built-in and warned about."""
    alerts = tmp_path / "alerts.json"
    alerts.write_text(json.dumps({"version": "4", "status": "resolved", "alerts": [
        {"status": "resolved", "labels": {"alertname": "CronTaskMissed", "task": "report", "severity": "warning"},
         "annotations": {"summary": "report did not run"}, "startsAt": "2026-11-23T01:00:00Z",
         "endsAt": "2026-11-23T01:30:00Z"}]}))
    result = CliRunner().invoke(cli, ["alerter", "render", "--config", str(write_config(tmp_path)),
                                      "--receiver", "custom", "--alerts", str(alerts)])
    assert result.exit_code == 0, result.output
    assert "RESOLVED" in result.output and "report did not run" in result.output
    assert "custom template failed" in result.output


def test_render_unknown_receiver_is_an_error(tmp_path: Path) -> None:
    """An unknown receiver name exits 2 and lists the receivers."""
    result = CliRunner().invoke(cli, ["alerter", "render", "--config", str(write_config(tmp_path)), "--receiver", "nope"])
    assert result.exit_code == 2 and "no receiver named 'nope'" in result.output and "ops" in result.output


def test_bad_receiver_config_names_file_and_line(tmp_path: Path) -> None:
    """A bad receiver key is reported as file:line: field by check-config."""
    path = tmp_path / "alerter.yml"
    path.write_text(CONFIG.replace("        timezone: Asia/Shanghai", "        timezone: Asia/Shanghia"))
    result = CliRunner().invoke(cli, ["alerter", "check-config", str(path)])
    assert result.exit_code == 2
    assert f"{path}:13: receivers[0].wecom_configs[0].timezone" in result.output and "Asia/Shanghia" in result.output


def test_status_shows_last_results(tmp_path: Path) -> None:
    """status reads /api/cronwatch/v1/receivers and shows outcomes; --check fails on a permanent failure."""
    rows = [{"receiver": "ops", "integration": "dingtalk", "index": 0, "send_resolved": True,
             "last_outcome": "permanent", "last_detail": "errcode 310000: sign not match",
             "last_attempt": "2026-11-23T02:00:00+00:00", "last_success": None, "attempts": 1, "failures": 1},
            {"receiver": "ops", "integration": "wecom", "index": 0, "send_resolved": True, "last_outcome": "sent",
             "last_detail": "ok", "last_attempt": "2026-11-23T02:00:00+00:00",
             "last_success": "2026-11-23T02:00:00+00:00", "attempts": 1, "failures": 0}]
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            body = json.dumps(rows).encode()
            self.send_response(200 if self.path == "/api/cronwatch/v1/receivers" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = CliRunner().invoke(cli, ["alerter", "status", "--url", url, "--token", "tok"])
        assert result.exit_code == 0, result.output
        assert "permanent" in result.output and "sign not match" in result.output and "wecom[0]" in result.output
        assert seen[-1] == "Bearer tok"
        assert CliRunner().invoke(cli, ["alerter", "status", "--url", url, "--check"]).exit_code == 1
        as_json = CliRunner().invoke(cli, ["alerter", "status", "--url", url, "--json"])
        assert json.loads(as_json.output) == rows
    finally:
        server.shutdown()
        server.server_close()


async def test_dry_run_writes_into_the_receivers_file_directory(tmp_path: Path) -> None:
    """``dry_run: true`` renders into the directory of the same receiver's file_configs, nothing is sent."""
    import httpx

    from alerter.config import load_alerter_config
    from alerter.model import BuildContext, Outcome
    from cronwatch.clock import SYSTEM_CLOCK

    sys_path = tmp_path / "alerter.yml"
    sys_path.write_text("""\
route: {receiver: preview}
receivers:
  - name: preview
    file_configs: [{directory: out}]
    dingtalk_configs:
      - access_token: dt-token-dry-run
        api_url: http://127.0.0.1:9/robot/send
        dry_run: true
""")
    cfg = load_alerter_config(sys_path)
    async with httpx.AsyncClient() as http:
        ctx = BuildContext(http=http, clock=SYSTEM_CLOCK, state_dir=tmp_path / "state",
                           extra={"config_dir": cfg.base_dir, "config": cfg})
        integration = cfg.receivers[0].dingtalk_configs[0].build(ctx)
        from rcvhelpers import make_notification

        result = await integration.notify(make_notification(receiver="preview"))
    assert result.outcome is Outcome.SENT and "dry run" in result.detail
    [path] = list((tmp_path / "out").glob("*.dingtalk.dry-run.json"))
    data = json.loads(path.read_text())
    assert data["dry_run"] and "TaskFailed" in data["messages"][0]["body"]
    assert "dt-token-dry-run" not in path.read_text()


def test_template_file_is_relative_to_the_config(tmp_path: Path) -> None:
    """template_file is read relative to alerter.yml; a missing one is a check-config error naming it."""
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "wecom.j2").write_text("{% for a in m.alerts %}CUSTOM {{ a.task }}{% endfor %}")
    path = tmp_path / "alerter.yml"
    path.write_text("route: {receiver: r}\nreceivers:\n  - name: r\n    wecom_configs:\n"
                    "      - key: k-123456\n        template_file: tpl/wecom.j2\n")
    result = CliRunner().invoke(cli, ["alerter", "render", "--config", str(path), "--receiver", "r"])
    assert result.exit_code == 0 and "CUSTOM db_backup" in result.output, result.output
    path.write_text(path.read_text().replace("tpl/wecom.j2", "tpl/missing.j2"))
    result = CliRunner().invoke(cli, ["alerter", "check-config", str(path)])
    assert result.exit_code == 2 and "template_file: cannot read" in result.output and "missing.j2" in result.output
