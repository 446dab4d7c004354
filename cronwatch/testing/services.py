"""Start and stop the real peers cronwatch talks to, on free loopback ports.

Every ``start_*`` returns a handle with ``url``/``port`` and ``stop()``; each also works as a
context manager. Binaries come from Debian packages (``prometheus``, ``prometheus-alertmanager``,
``redis-server``) or PyPI (``osmem-server``, ``aiosmtpd``); a missing binary raises
:class:`ServiceError` saying which package provides it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx

from cronwatch.errors import CronwatchError


class ServiceError(CronwatchError):
    """A test service could not be started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def which(binary: str, package: str) -> str:
    """Path of ``binary`` or a ServiceError naming the package to install."""
    found = shutil.which(binary) or (f"/usr/bin/{binary}" if os.path.exists(f"/usr/bin/{binary}") else None)
    if not found:
        raise ServiceError(f"{binary} not found: install the Debian package {package!r} (make test does)")
    return found


def wait_until(check: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[Any] | None = None) -> None:
    """Poll ``check`` until it is true or ``timeout`` passes (or ``proc`` exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"{what} exited with status {proc.returncode} during start-up")
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.05)
    raise ServiceError(f"{what} did not become ready within {timeout:.0f} s")


def http_ok(url: str) -> bool:
    """True when GET ``url`` answers 2xx."""
    return httpx.get(url, timeout=1.0).is_success


@dataclass
class Process:
    """A child process serving on ``host:port``."""

    name: str
    proc: subprocess.Popen[Any]
    port: int
    host: str = "127.0.0.1"
    workdir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process (SIGTERM, then SIGKILL)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the process at once."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _spawn(args: list[str], log: Path | None) -> subprocess.Popen[Any]:
    out = open(log, "ab") if log is not None else subprocess.DEVNULL
    try:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    finally:
        if log is not None:
            out.close()  # type: ignore[union-attr]


# --- osmem-server (Elasticsearch/OpenSearch-compatible store) ---------------------------------

def osmem_binary() -> str:
    """Path of the osmem-server binary bundled in the ``osmem-server`` wheel."""
    try:
        from osmem_server import resolve_binary
    except ImportError as exc:
        raise ServiceError("osmem-server is not installed: pip install 'cronwatch[embedded]'") from exc
    return str(resolve_binary())


def start_osmem(port: int | None = None, log: Path | None = None, timeout: float = 30.0) -> Process:
    """Start an in-memory OpenSearch-compatible store on loopback."""
    port = port or free_port()
    proc = _spawn([osmem_binary(), "--addr", f"127.0.0.1:{port}", "--no-stdin-watch", "--no-ja",
                   "--parent-pid", str(os.getpid())], log)
    handle = Process("osmem-server", proc, port)
    try:
        wait_until(lambda: http_ok(handle.url + "/"), timeout, "osmem-server", proc)
    except ServiceError:
        handle.kill()
        raise
    return handle


# --- Prometheus ---------------------------------------------------------------------------------

def start_prometheus(workdir: Path, config: str, rule_files: list[Path] | None = None, port: int | None = None,
                     timeout: float = 60.0, extra_args: list[str] | None = None) -> Process:
    """Start Prometheus with ``config`` (YAML text) written to ``workdir/prometheus.yml``.

    ``rule_files`` are copied next to it and referenced by the config's ``rule_files`` as written.
    Lifecycle API is on so tests can ``POST /-/reload``.
    """
    binary = which("prometheus", "prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    for rf in rule_files or []:
        shutil.copy(rf, workdir / rf.name)
    (workdir / "prometheus.yml").write_text(config)
    port = port or free_port()
    args = [binary, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle", "--log.level=warn",
            *(extra_args or [])]
    proc = _spawn(args, workdir / "prometheus.log")
    handle = Process("prometheus", proc, port, workdir=workdir)
    try:
        wait_until(lambda: http_ok(handle.url + "/-/ready"), timeout, "prometheus", proc)
    except ServiceError:
        handle.kill()
        raise
    return handle


# --- Alertmanager -------------------------------------------------------------------------------

def start_alertmanager(workdir: Path, config: str, port: int | None = None, timeout: float = 60.0) -> Process:
    """Start Debian's ``prometheus-alertmanager`` with ``config`` (YAML text), clustering off."""
    binary = which("prometheus-alertmanager", "prometheus-alertmanager")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "alertmanager.yml").write_text(config)
    port = port or free_port()
    args = [binary, f"--config.file={workdir / 'alertmanager.yml'}", f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"]
    proc = _spawn(args, workdir / "alertmanager.log")
    handle = Process("alertmanager", proc, port, workdir=workdir)
    try:
        wait_until(lambda: http_ok(handle.url + "/-/ready"), timeout, "alertmanager", proc)
    except ServiceError:
        handle.kill()
        raise
    return handle


# --- Redis --------------------------------------------------------------------------------------

def start_redis(workdir: Path, port: int | None = None, timeout: float = 20.0) -> Process:
    """Start ``redis-server`` without persistence on loopback."""
    binary = which("redis-server", "redis-server")
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--protected-mode", "yes"]
    proc = _spawn(args, workdir / "redis.log")
    handle = Process("redis-server", proc, port, workdir=workdir)

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    try:
        wait_until(ping, timeout, "redis-server", proc)
    except ServiceError:
        handle.kill()
        raise
    return handle


# --- SMTP (aiosmtpd) ----------------------------------------------------------------------------

@dataclass
class SmtpServer:
    """An aiosmtpd server in a thread that keeps every message it receives.

    With ``tls_context`` it offers STARTTLS (and requires it before AUTH when ``require_starttls``).
    ``users`` enables AUTH LOGIN/PLAIN with those credentials.
    """

    host: str
    port: int
    controller: Any
    messages: list[dict[str, Any]]
    ca_pem: bytes | None = None

    def parsed(self) -> list[Message]:
        """The received messages parsed as ``email.message.Message``."""
        return [message_from_bytes(m["data"]) for m in self.messages]

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_tls_pair(hostname: str = "127.0.0.1") -> tuple[ssl.SSLContext, bytes]:
    """A server SSL context with a fresh test CA's certificate for ``hostname``, and the CA PEM."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert(hostname, "localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx, ca.cert_pem.bytes()


def start_smtp(*, starttls: bool = False, users: dict[str, str] | None = None,
               require_starttls: bool = False, port: int | None = None) -> SmtpServer:
    """Start an aiosmtpd server on loopback that records each message."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    messages: list[dict[str, Any]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                             "data": envelope.original_content or envelope.content,
                             "tls": session.ssl is not None,
                             "auth": getattr(session, "authenticated", False)})
            return "250 Message accepted for delivery"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and users is not None:
            user = auth_data.login.decode()
            if users.get(user) == auth_data.password.decode():
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    tls_context, ca_pem = (make_tls_pair() if starttls else (None, None))
    port = port or free_port()
    kwargs: dict[str, Any] = {}
    if users is not None:
        kwargs.update(authenticator=authenticator, auth_require_tls=starttls, auth_required=True)
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=tls_context,
                            require_starttls=require_starttls, ready_timeout=10, **kwargs)
    controller.start()
    return SmtpServer("127.0.0.1", port, controller, messages, ca_pem)


@contextlib.contextmanager
def running(handle: Any) -> Iterator[Any]:
    """``with running(start_x(...)) as h:`` — stop ``h`` on exit, whatever happens."""
    try:
        yield handle
    finally:
        handle.stop()
