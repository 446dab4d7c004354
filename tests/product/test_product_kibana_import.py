"""dashboards/import.sh against a local server that answers like Kibana's saved objects import API.

There is no Kibana here. The server implements the documented behaviour the script relies on:
`GET /api/status` (503 while starting, then `overall.level: available`), `POST
/api/saved_objects/_import` requiring the `kbn-xsrf` header and basic auth, taking a multipart
`file` of NDJSON, answering `success` / `successCount` or `errors` for missing references, and
spaces under `/s/<space>/`.
"""

from __future__ import annotations

import base64
import email
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from product_support import KIBANA, kibana_objects

SCRIPT = KIBANA.parent / "import.sh"
PASSWORD = "s3cret-Pa55"


@dataclass
class FakeState:
    """What the server saw and how it behaves."""

    not_ready_for: int = 0
    imports: list[dict[str, Any]] = field(default_factory=list)
    stored: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def make_handler(state: FakeState) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``state``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def reply(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def authorized(self) -> bool:
            expected = "Basic " + base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
            return self.headers.get("authorization") == expected

        def do_GET(self) -> None:
            if not self.path.endswith("/api/status"):
                return self.reply(404, {"statusCode": 404})
            if state.not_ready_for > 0:
                state.not_ready_for -= 1
                return self.reply(503, {"status": {"overall": {"level": "unavailable"}}})
            return self.reply(200, {"status": {"overall": {"level": "available"}}})

        def do_POST(self) -> None:
            url = urlparse(self.path)
            if not url.path.endswith("/api/saved_objects/_import"):
                return self.reply(404, {"statusCode": 404})
            if not self.authorized():
                return self.reply(401, {"statusCode": 401, "error": "Unauthorized"})
            if "kbn-xsrf" not in self.headers:
                return self.reply(400, {"statusCode": 400, "message": "Request must contain a kbn-xsrf header."})
            body = self.rfile.read(int(self.headers["content-length"]))
            msg = email.message_from_bytes(b"Content-Type: " + self.headers["content-type"].encode() + b"\r\n\r\n"
                                           + body)
            parts: list[Any] = msg.get_payload() if msg.is_multipart() else []  # type: ignore[assignment]
            files = [p for p in parts if p.get_param("name", header="content-disposition") == "file"]
            if len(files) != 1:
                return self.reply(400, {"statusCode": 400, "message": "file is required"})
            content: bytes = files[0].get_payload(decode=True)
            objects = [json.loads(line) for line in content.decode().splitlines() if line]
            known = set(state.stored) | {(o["type"], o["id"]) for o in objects}
            errors = [{"id": o["id"], "type": o["type"], "error": {"type": "missing_references"}}
                      for o in objects for r in o.get("references", []) if (r["type"], r["id"]) not in known]
            state.imports.append({"path": url.path, "query": parse_qs(url.query), "count": len(objects)})
            if errors:
                return self.reply(200, {"success": False, "successCount": 0, "errors": errors})
            for o in objects:
                state.stored[(o["type"], o["id"])] = o
            return self.reply(200, {"success": True, "successCount": len(objects)})

    return Handler


@pytest.fixture
def kibana() -> Iterator[tuple[str, FakeState]]:
    """The Kibana-like server on a free loopback port."""
    state = FakeState(not_ready_for=1)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def run_import(url: str, tmp_path: Path, password: str = PASSWORD, **env: str) -> subprocess.CompletedProcess[str]:
    """Run dashboards/import.sh with the password in a file, as compose does."""
    secret = tmp_path / "password"
    secret.write_text(password + "\n")
    environ = {**os.environ, "KIBANA_URL": url, "KIBANA_USERNAME": "elastic",
               "KIBANA_PASSWORD_FILE": str(secret), "KIBANA_WAIT_TRIES": "5", "KIBANA_WAIT_INTERVAL": "0.2", **env}
    return subprocess.run(["sh", str(SCRIPT)], capture_output=True, text=True, env=environ, timeout=60)


def test_import_waits_for_kibana_and_imports_everything(kibana: tuple[str, FakeState], tmp_path: Path) -> None:
    """The script waits out a starting Kibana, then imports every object with overwrite=true."""
    url, state = kibana
    result = run_import(url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "imported cronwatch.ndjson" in result.stdout
    assert state.imports and all(i["query"] == {"overwrite": ["true"]} for i in state.imports)
    assert set(state.stored) == {(o["type"], o["id"]) for o in kibana_objects()}


def test_import_is_idempotent(kibana: tuple[str, FakeState], tmp_path: Path) -> None:
    """Running it twice succeeds twice (objects are overwritten, not duplicated)."""
    url, state = kibana
    assert run_import(url, tmp_path).returncode == 0
    assert run_import(url, tmp_path).returncode == 0
    assert len(state.stored) == len(kibana_objects())


def test_wrong_password_fails_without_echoing_it(kibana: tuple[str, FakeState], tmp_path: Path) -> None:
    """A rejected login exits 1 naming the file and the HTTP status; no password appears in the output."""
    url, _ = kibana
    result = run_import(url, tmp_path, password="wrong-pass-123")
    assert result.returncode == 1
    assert "cronwatch.ndjson failed (HTTP 401)" in result.stderr
    assert "wrong-pass-123" not in result.stdout + result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_kibana_that_never_comes_up_is_reported(tmp_path: Path) -> None:
    """No Kibana at the URL: the script gives up after its tries with a clear message."""
    from cronwatch.testing.services import free_port

    result = run_import(f"http://127.0.0.1:{free_port()}", tmp_path, KIBANA_WAIT_TRIES="1")
    assert result.returncode == 1
    assert "is not available" in result.stderr


def test_space_is_honoured(kibana: tuple[str, FakeState], tmp_path: Path) -> None:
    """KIBANA_SPACE imports into /s/<space>/."""
    url, state = kibana
    assert run_import(url, tmp_path, KIBANA_SPACE="ops").returncode == 0
    assert state.imports[0]["path"] == "/s/ops/api/saved_objects/_import"


def test_a_broken_reference_fails_the_import(kibana: tuple[str, FakeState], tmp_path: Path) -> None:
    """An object whose data view is missing is refused by Kibana, and the script exits 1 saying so."""
    url, state = kibana
    copy = tmp_path / "dashboards"
    (copy / "kibana").mkdir(parents=True)
    (copy / "import.sh").write_text(SCRIPT.read_text())
    lines = [line for line in (KIBANA / "cronwatch.ndjson").read_text().splitlines()
             if json.loads(line)["type"] != "index-pattern"]
    (copy / "kibana" / "cronwatch.ndjson").write_text("\n".join(lines) + "\n")
    secret = tmp_path / "password"
    secret.write_text(PASSWORD)
    env = {**os.environ, "KIBANA_URL": url, "KIBANA_USERNAME": "elastic", "KIBANA_PASSWORD_FILE": str(secret)}
    result = subprocess.run(["sh", str(copy / "import.sh")], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "missing_references" in result.stderr
    assert state.stored == {}
