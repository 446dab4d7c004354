"""Each real test service starts on loopback and answers like the real thing."""

from __future__ import annotations

import smtplib
import ssl
import time
from email.message import EmailMessage
from pathlib import Path

import httpx
import redis

from cronwatch.testing import services


def test_osmem_indexes_and_searches(osmem: services.Process) -> None:
    """osmem-server takes a bulk request and finds the document."""
    body = '{"index":{"_index":"t-svc","_id":"1"}}\n{"message":"hello","n":1}\n'
    r = httpx.post(osmem.url + "/_bulk?refresh=true", content=body,
                   headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200 and r.json()["errors"] is False
    hits = httpx.get(osmem.url + "/t-svc/_search", params={"q": "message:hello"}).json()["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["1"]


def test_prometheus_scrapes_itself(tmp_path: Path) -> None:
    """Prometheus starts, scrapes its own /metrics and answers a query."""
    port = services.free_port()
    cfg = f"""global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: self
    static_configs: [{{targets: ['127.0.0.1:{port}']}}]
"""
    with services.start_prometheus(tmp_path, cfg, port=port) as prom:
        deadline = time.monotonic() + 30
        result: list[object] = []
        while time.monotonic() < deadline and not result:
            result = httpx.get(prom.url + "/api/v1/query", params={"query": 'up{job="self"}'}).json()["data"]["result"]
            time.sleep(0.3)
        assert result and result[0]["value"][1] == "1"  # type: ignore[index]


def test_alertmanager_accepts_alerts(tmp_path: Path) -> None:
    """Alertmanager accepts a v2 alert and lists it."""
    cfg = "route: {receiver: 'null'}\nreceivers: [{name: 'null'}]\n"
    with services.start_alertmanager(tmp_path, cfg) as am:
        r = httpx.post(am.url + "/api/v2/alerts", json=[{"labels": {"alertname": "SvcTest", "task": "x"}}])
        assert r.status_code == 200
        alerts = httpx.get(am.url + "/api/v2/alerts").json()
        assert [a["labels"]["alertname"] for a in alerts] == ["SvcTest"]


def test_redis_set_nx(redis_server: services.Process) -> None:
    """redis-server honours SET NX PX."""
    r = redis.Redis(host="127.0.0.1", port=redis_server.port)
    assert r.set("lock", "a", nx=True, px=5000)
    assert not r.set("lock", "b", nx=True, px=5000)
    assert r.get("lock") == b"a"
    r.close()


def test_smtp_receives_mail(smtp_server: services.SmtpServer) -> None:
    """The aiosmtpd server records a message sent with smtplib."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "hi"
    msg.set_content("body")
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as s:
        s.send_message(msg)
    assert smtp_server.parsed()[0]["Subject"] == "hi"


def test_smtp_starttls_with_auth(smtp_starttls: services.SmtpServer) -> None:
    """The STARTTLS server presents a certificate our test CA verifies, then takes AUTH."""
    ctx = ssl.create_default_context(cadata=smtp_starttls.ca_pem.decode())  # type: ignore[union-attr]
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "tls"
    msg.set_content("body")
    with smtplib.SMTP(smtp_starttls.host, smtp_starttls.port) as s:
        s.starttls(context=ctx)
        s.login("cronwatch", "s3cret")
        s.send_message(msg)
    assert smtp_starttls.messages[0]["tls"] is True
