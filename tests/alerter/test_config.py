"""alerter.yml: an alertmanager.yml loads unchanged; problems are reported with file:line, never ignored."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from engine_helpers import config

from alerter.route import Router
from cronwatch.errors import ConfigError

ALERTMANAGER_YML = """\
global:
  resolve_timeout: 5m
  smtp_smarthost: 'smtp.example.org:587'
  smtp_from: 'alertmanager@example.org'
  smtp_auth_username: 'alertmanager'
  smtp_auth_password: 'password'
  slack_api_url: 'https://hooks.example.org/services/x'

route:
  group_by: ['alertname', 'cluster', 'service']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 3h
  receiver: team-X-mails
  routes:
    - matchers:
        - service=~"foo1|foo2|baz"
      receiver: team-X-mails
      routes:
        - matchers:
            - severity="critical"
          receiver: team-X-pager
    - match:
        service: files
      receiver: team-Y-mails
      mute_time_intervals: [offhours]
      routes:
        - match:
            severity: critical
          receiver: team-Y-pager
    - receiver: 'team-DB-pager'
      group_by: [alertname, cluster, database]
      matchers: [service="database"]
      continue: true

inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname, cluster, service]
  - source_match: {severity: critical}
    target_match_re: {severity: 'warning|info'}
    equal: [alertname]

time_intervals:
  - name: offhours
    time_intervals:
      - times:
          - start_time: '00:00'
            end_time: '09:00'
        weekdays: ['monday:friday']

receivers:
  - name: 'team-X-mails'
    email_configs:
      - to: 'team-X+alerts@example.org'
  - name: 'team-X-pager'
    webhook_configs:
      - url: 'http://127.0.0.1:5001/pager'
        send_resolved: false
  - name: 'team-Y-mails'
    email_configs:
      - to: 'team-Y+alerts@example.org, team-Y2@example.org'
  - name: 'team-Y-pager'
    webhook_configs:
      - url: 'https://pager.example.org/hook'
        http_config:
          authorization: {credentials: 'sekret'}
  - name: 'team-DB-pager'
    webhook_configs:
      - url_file: hook-url.txt
"""


def test_alertmanager_yml_loads_unchanged(tmp_path: Path) -> None:
    """A typical alertmanager.yml (email, webhook, inhibit, time intervals, legacy match) loads and routes as in Alertmanager."""
    cfg = config(ALERTMANAGER_YML, tmp_path)
    router = Router(cfg)
    assert router.receivers_for({"service": "foo1", "severity": "critical"}) == ["team-X-pager"]
    assert router.receivers_for({"service": "files"}) == ["team-Y-mails"]
    assert router.receivers_for({"service": "database"}) == ["team-DB-pager"]
    assert router.receivers_for({"service": "other"}) == ["team-X-mails"]
    assert len(cfg.inhibit_rules) == 2 and cfg.intervals()["offhours"].time_intervals


def _problems(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        config(text, tmp_path)
    return err.value.problems


def test_unknown_keys_templates_and_unimplemented_types(tmp_path: Path) -> None:
    """Go templates, unknown keys and receiver types we lack are each reported with file:line."""
    problems = _problems("""\
templates: ['/etc/alertmanager/*.tmpl']
route:
  receiver: a
  group_wiat: 30s
receivers:
  - name: a
    slack_configs:
      - channel: '#ops'
    pagerduty_configs: []
""", tmp_path)
    text = "\n".join(problems)
    assert "alerter.yml:1: templates: Go templates are not supported" in text
    assert "alerter.yml:4: route.group_wiat: unknown field" in text
    assert "alerter.yml:8: receivers[0].slack_configs: receiver type slack is not implemented" in text
    assert "alerter.yml:9: receivers[0].pagerduty_configs: receiver type pagerduty is not implemented" in text


def test_cross_references_checked(tmp_path: Path) -> None:
    """Undefined receivers and time intervals, duplicate names and bad durations name their line."""
    problems = _problems("""\
route:
  receiver: a
  routes:
    - receiver: missing
      mute_time_intervals: [nights]
    - receiver: a
      group_wait: 5 minutes
tiers:
  critical: {receivers: [nobody]}
receivers:
  - name: a
  - name: a
""", tmp_path)
    text = "\n".join(problems)
    assert 'alerter.yml:7: route.routes[1].group_wait: invalid duration "5 minutes"' in text
    problems = _problems("""\
route:
  receiver: a
  routes:
    - receiver: missing
      mute_time_intervals: [nights]
tiers:
  critical: {receivers: [nobody]}
receivers:
  - name: a
  - name: a
""", tmp_path)
    text = "\n".join(problems)
    assert "alerter.yml:10: receivers[1].name: duplicate receiver 'a'" in text
    assert "alerter.yml:4: route.routes[0].receiver: undefined receiver 'missing'" in text
    assert "alerter.yml:5: route.routes[0].mute_time_intervals[0]: undefined time interval 'nights'" in text
    assert "alerter.yml:7: tiers.critical.receivers[0]: undefined receiver 'nobody'" in text


def test_bad_matchers_and_tls_rejected(tmp_path: Path) -> None:
    """A bad regex in a route and turning TLS verification off are both config errors with lines."""
    problems = _problems("""\
route:
  receiver: a
  routes:
    - matchers: ['task=~"(("']
      receiver: a
receivers:
  - name: a
    webhook_configs:
      - url: https://example.org/
        http_config: {tls_config: {insecure_skip_verify: true}}
""", tmp_path)
    text = "\n".join(problems)
    assert "alerter.yml:4: route.routes[0].matchers" in text
    assert "alerter.yml:10:" in text and "insecure_skip_verify is not supported" in text


def test_webhook_url_scheme_checked(tmp_path: Path) -> None:
    """A webhook URL must be http(s); the error names the line and never echoes the URL."""
    problems = _problems("route: {receiver: a}\nreceivers:\n  - name: a\n    webhook_configs:\n"
                         "      - url: ftp://user:SECRET@example.org/\n", tmp_path)
    assert "alerter.yml:5: receivers[0].webhook_configs[0]: url must start with http" in problems[0]
    assert "SECRET" not in "\n".join(problems)


async def test_failed_apply_keeps_running_config(tmp_path: Path) -> None:
    """A config whose receiver cannot be built is rejected whole, naming the entry; the old one stays."""
    from engine_helpers import engine

    e, _ = engine("route: {receiver: a}\nreceivers: [{name: a, file_configs: [{directory: out}]}]\n", tmp_path)
    bad = config("route: {receiver: b}\nreceivers:\n  - name: b\n    webhook_configs: [{url_file: missing.txt}]\n",
                 tmp_path, "new.yml")
    with pytest.raises(ConfigError) as err:
        e.apply(bad)
    assert "new.yml: receivers[0].webhook_configs[0]: webhook url: cannot read secret file" in err.value.problems[0]
    assert e.cfg.route.receiver == "a" and list(e.slots) == ["a"]
    await e.stop()


async def test_reload_closes_replaced_integrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reload closes the integrations it replaced (their clients and timers), after the flushes
    still using them; stop() closes the current ones. Nothing is closed twice."""
    from engine_helpers import engine

    from alerter.receivers._robot import RobotIntegration

    closed: list[int] = []

    async def aclose(self: RobotIntegration) -> None:
        closed.append(id(self))

    monkeypatch.setattr(RobotIntegration, "aclose", aclose)
    text = ("route: {receiver: a}\nreceivers:\n  - name: a\n    dingtalk_configs:\n"
            "      - {access_token: t0k3n, api_url: 'http://127.0.0.1:9/robot/send'}\n")
    e, _ = engine(text, tmp_path)
    first = e.slots["a"][0].integration
    e.apply(config(text, tmp_path, "again.yml"))
    second = e.slots["a"][0].integration
    assert second is not first
    for _ in range(3):
        await asyncio.sleep(0)
    assert closed == [id(first)]
    await e.stop()
    assert closed == [id(first), id(second)]
