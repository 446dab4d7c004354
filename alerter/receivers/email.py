"""E-mail over SMTP: STARTTLS (required by default) or implicit TLS on port 465, auth, multipart.

Configured with Alertmanager's ``email_configs`` keys, which keep their meaning: ``to`` (one or
several addresses, comma-separated), ``from``, ``smarthost`` (``host:port``), ``hello``,
``auth_username``/``auth_password``/``auth_password_file``/``auth_identity``, ``require_tls``,
``tls_config``, ``headers``, ``html``, ``text``, ``send_resolved`` (default false, as in
Alertmanager). Unset keys take the ``global.smtp_*`` defaults. ``html``, ``text`` and header
values are Jinja2 templates (sandboxed); left unset, the built-in ones are used.

Every message has a fresh ``Message-Id`` and a ``Date``; ``In-Reply-To``/``References`` name one
stable id per alert group so a group's notifications form one thread. The password is never
sent over an unencrypted connection and never appears in a detail or a log line.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from alerter.httpconfig import TlsConfig
from alerter.model import BuildContext, Notification, Outcome, Result
from alerter.receivers._common import (
    MessageOptions,
    Preview,
    check_template,
    config_path,
    dry_run_dir,
    global_config,
    templates_of,
    write_dry_run,
)
from alerter.receivers._http import Scrubber
from alerter.receivers._truncate import cut_lines, fit_alerts
from alerter.templating import Rendered, group_view, message_view, zone
from cronwatch.config import read_secret
from cronwatch.errors import ConfigError

MAX_BYTES = 512 * 1024


class EmailConfig(MessageOptions):
    """One entry of ``email_configs``."""

    send_resolved: bool = False
    to: str
    from_: str | None = Field(default=None, alias="from")
    smarthost: str | None = None
    hello: str | None = None
    auth_username: str | None = None
    auth_password: SecretStr | None = None
    auth_password_file: str | None = None
    auth_identity: str | None = None
    auth_secret: SecretStr | None = None
    require_tls: bool | None = None
    implicit_tls: bool | None = None  # cronwatch extension; default: implicit TLS exactly on port 465
    tls_config: TlsConfig | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    html: str | None = None
    text: str | None = None
    max_bytes: int = MAX_BYTES

    @field_validator("html")
    @classmethod
    def _html(cls, v: str | None) -> str | None:
        return None if _is_am_default(v) else check_template(v, "html", "html")

    @field_validator("text")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        return None if _is_am_default(v) else check_template(v, "text")

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        out = {}
        for name, value in v.items():
            if not _is_am_default(value):  # Alertmanager's default subject means our built-in one
                check_template(value, f"headers.{name}")
                out[name] = value
        return out

    @model_validator(mode="after")
    def _checks(self) -> EmailConfig:
        if self.template is not None or self.template_file is not None:
            raise ValueError("email uses html, text and headers.Subject as templates, not template/template_file")
        if not self.recipients():
            raise ValueError("to: no e-mail address given")
        if self.auth_password is not None and self.auth_password_file:
            raise ValueError("give auth_password or auth_password_file, not both")
        if self.smarthost is not None:
            _split_hostport(self.smarthost)
        return self

    def recipients(self) -> list[str]:
        """The addresses in ``to`` (comma-separated, as in Alertmanager)."""
        return [addr for _name, addr in getaddresses([self.to]) if addr]

    def build(self, ctx: BuildContext) -> EmailIntegration:
        """The integration for this entry, with ``global.smtp_*`` defaults filled in."""
        return EmailIntegration(self, ctx)


_AM_DEFAULTS = re.compile(r'^\s*\{\{\s*template\s+"email\.default\.(html|subject|text)"\s+\.\s*\}\}\s*$')


def _is_am_default(value: str | None) -> bool:
    """Alertmanager's own default templates (``{{ template "email.default.html" . }}``) mean "the built-in"."""
    return value is not None and _AM_DEFAULTS.match(value) is not None


def _split_hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f'smarthost must be "host:port", got "{value}"')
    return host.strip("[]"), int(port)


class EmailIntegration:
    """Sends notifications as e-mail through one smarthost."""

    kind = "email"

    def __init__(self, cfg: EmailConfig, ctx: BuildContext) -> None:
        g = global_config(ctx)
        base = Path(ctx.extra.get("config_dir", "."))
        self.cfg = cfg
        self.send_resolved = cfg.send_resolved
        self.clock = ctx.clock
        self.templates = templates_of(ctx)
        self.sender = cfg.from_ or getattr(g, "smtp_from", None) or ""
        smarthost = cfg.smarthost or getattr(g, "smtp_smarthost", None) or ""
        self.host, self.port = _split_hostport(smarthost) if smarthost else ("", 0)
        self.hello = cfg.hello or getattr(g, "smtp_hello", None) or socket.getfqdn()
        self.username = cfg.auth_username or getattr(g, "smtp_auth_username", None)
        password_file = cfg.auth_password_file or getattr(g, "smtp_auth_password_file", None)
        pw = (cfg.auth_password or cfg.auth_secret or getattr(g, "smtp_auth_password", None)
              or getattr(g, "smtp_auth_secret", None))  # auth_secret is CRAM-MD5's, which smtplib tries first
        self._password = read_secret(pw, config_path(ctx, password_file), "email_configs.auth_password_file")
        self.require_tls = cfg.require_tls if cfg.require_tls is not None else getattr(g, "smtp_require_tls", True)
        self.scrub = Scrubber(self._password)
        tls = cfg.tls_config
        cafile = str(base / tls.ca_file) if tls is not None and tls.ca_file else None
        try:
            self.ssl_context = ssl.create_default_context(cafile=cafile)
            if tls is not None and tls.cert_file and tls.key_file:
                self.ssl_context.load_cert_chain(str(base / tls.cert_file), str(base / tls.key_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"email_configs.tls_config: cannot load the CA or certificate: {exc}") from None
        self.server_name = (tls.server_name if tls is not None and tls.server_name else None) or self.host
        self.custom_html = self.templates.compile(cfg.html, "html") if cfg.html else None
        self.custom_text = self.templates.compile(cfg.text) if cfg.text else None
        self.custom_headers = {k: self.templates.compile(v) for k, v in cfg.headers.items()}
        self.dry_dir = dry_run_dir(cfg, ctx) if cfg.dry_run else None
        self.timeout = cfg.timeout.total_seconds()

    def describe(self) -> dict[str, Any]:
        """Non-secret facts for the status API."""
        return {"smarthost": f"{self.host}:{self.port}", "to": self.cfg.recipients()}

    # --- the message ---------------------------------------------------------------------------------

    def _domain(self) -> str:
        return self.sender.rpartition("@")[2].strip(">") or "cronwatch.local"

    def thread_id(self, n: Notification) -> str:
        """The stable id every message of one alert group refers to."""
        digest = hashlib.sha256(f"{n.receiver}\0{n.group_key}".encode()).hexdigest()[:32]
        return f"<alert-group.{digest}@{self._domain()}>"

    def message(self, n: Notification) -> tuple[EmailMessage, list[str]]:
        """The MIME message for ``n`` and the template failures that fell back to built-ins."""
        opts = self.cfg.view_options()
        group = group_view(n, opts)
        fallbacks: list[str] = []

        def view(k: int | None) -> Any:
            return message_view([group], n.now, opts, shown=k)

        def part(name: str, custom: Any) -> str:
            def render_k(k: int) -> str:
                r: Rendered = self.templates.render("email", name, view(k), custom)
                if r.fallback and r.fallback not in fallbacks:
                    fallbacks.append(r.fallback)
                return r.text

            text, _omitted = fit_alerts(render_k, len(group.alerts), self.cfg.max_bytes)
            return cut_lines(text, self.cfg.max_bytes, "…")

        msg = EmailMessage()
        headers: dict[str, str] = {}
        for name, tmpl in self.custom_headers.items():
            r = self.templates.render("email", "subject", view(None), tmpl)
            if r.fallback:
                fallbacks.append(f"headers.{name}: {r.fallback}")
            headers[name] = " ".join(r.text.split())
        if not any(k.lower() == "subject" for k in headers):
            headers["Subject"] = " ".join(self.templates.render("email", "subject", view(None)).text.split())
        for k, v in headers.items():
            if k.lower() not in ("from", "to", "message-id", "date", "in-reply-to", "references"):
                msg[k] = v
        msg["From"] = headers.get("From", self.sender)
        msg["To"] = headers.get("To", ", ".join(self.cfg.recipients()))
        msg["Date"] = format_datetime(n.now.astimezone(zone(self.cfg.timezone)))
        msg["Message-Id"] = make_msgid(domain=self._domain())
        thread = self.thread_id(n)
        msg["In-Reply-To"] = thread
        msg["References"] = thread
        msg["X-Cronwatch-Group-Key"] = n.group_key[:200]
        msg.set_content(part("text", self.custom_text), charset="utf-8")
        msg.add_alternative(part("html", self.custom_html), subtype="html", charset="utf-8")
        return msg, fallbacks

    def preview(self, n: Notification) -> list[Preview]:
        """What :meth:`notify` would send for ``n``."""
        msg, fallbacks = self.message(n)
        return [Preview(self.kind, f"smtp://{self.host}:{self.port}", "message/rfc822", msg.as_string(),
                        "; ".join(fallbacks) or None)]

    # --- delivery ------------------------------------------------------------------------------------

    async def notify(self, notification: Notification) -> Result:
        """Send one e-mail; never raises for delivery problems."""
        if self.dry_dir is not None:
            path = write_dry_run(self.dry_dir, notification, self.preview(notification))
            return Result(Outcome.SENT, f"dry run: rendered to {path.name}")
        if not self.host or not self.sender:
            return Result(Outcome.PERMANENT, "no smarthost or from address (set them here or in global.smtp_*)")
        try:
            msg, fallbacks = self.message(notification)
        except Exception as exc:
            return Result(Outcome.PERMANENT, self.scrub(f"rendering failed: {type(exc).__name__}: {exc}"))
        result = await asyncio.to_thread(self._deliver, msg)
        if result.outcome is Outcome.SENT and fallbacks:
            result.detail += self.scrub(f" (custom template failed, built-in used: {'; '.join(fallbacks)})")
        return result

    def _deliver(self, msg: EmailMessage) -> Result:
        try:
            return self._session(msg)
        except smtplib.SMTPAuthenticationError as exc:
            return Result(Outcome.PERMANENT, f"SMTP authentication failed ({exc.smtp_code})")
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _m in exc.recipients.values()]
            outcome = Outcome.RETRY if codes and all(400 <= c < 500 for c in codes) else Outcome.PERMANENT
            return Result(outcome, self.scrub(f"all recipients refused: {_codes(exc.recipients)}"))
        except smtplib.SMTPNotSupportedError as exc:
            return Result(Outcome.PERMANENT, self.scrub(f"SMTP server does not support it: {exc}"))
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            outcome = Outcome.RETRY if 400 <= exc.smtp_code < 500 else Outcome.PERMANENT
            return Result(outcome, self.scrub(f"SMTP {exc.smtp_code}: {text}"))
        except ssl.SSLCertVerificationError:
            return Result(Outcome.PERMANENT, "TLS certificate verification failed (give the CA as tls_config.ca_file)")
        except (smtplib.SMTPException, OSError) as exc:
            return Result(Outcome.RETRY, self.scrub(f"{type(exc).__name__}: {exc}"))

    def _session(self, msg: EmailMessage) -> Result:
        implicit_tls = self.cfg.implicit_tls if self.cfg.implicit_tls is not None else self.port == 465
        smtp: smtplib.SMTP
        if implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, local_hostname=self.hello, timeout=self.timeout,
                                    context=self.ssl_context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, local_hostname=self.hello, timeout=self.timeout)
        with smtp:
            smtp.ehlo()
            encrypted = implicit_tls
            if not implicit_tls and smtp.has_extn("starttls"):
                smtp._host = self.server_name  # type: ignore[attr-defined]  # name checked against the certificate
                smtp.starttls(context=self.ssl_context)
                smtp.ehlo()
                encrypted = True
            if not encrypted and self.require_tls:
                return Result(Outcome.PERMANENT, "the SMTP server does not offer STARTTLS and require_tls is true")
            if self.username:
                if not encrypted:
                    return Result(Outcome.PERMANENT, "refusing to send the SMTP password over an unencrypted "
                                                     "connection (the server offers no STARTTLS)")
                smtp.login(self.username, self._password or "")
            refused = smtp.send_message(msg, from_addr=self.sender, to_addrs=self.cfg.recipients())
        if refused:
            return Result(Outcome.SENT, self.scrub(f"sent; some recipients refused: {_codes(refused)}"))
        return Result(Outcome.SENT, f"sent to {len(self.cfg.recipients())} recipient(s) via {self.host}:{self.port}")


def _codes(refused: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{addr} ({code})" for addr, (code, _m) in list(refused.items())[:5])
