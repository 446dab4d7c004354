"""A real aiosmtpd server whose answers can be scripted (451 "try later", 550 refusals).

Offers STARTTLS (or implicit TLS, as on port 465) with a fresh test CA from trustme, and AUTH
for the given users; keeps every accepted message.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import Any

from cronwatch.testing.services import free_port, make_tls_pair


@dataclass
class ScriptedSmtp:
    """Handle of a running scripted SMTP server."""

    port: int
    ca_pem: bytes | None
    controller: Any
    messages: list[dict[str, Any]] = field(default_factory=list)
    data_answers: deque[str] = field(default_factory=deque)

    def parsed(self) -> list[Any]:
        """The accepted messages, parsed."""
        return [message_from_bytes(m["data"]) for m in self.messages]

    def answer_next_data(self, reply: str) -> None:
        """Answer the next DATA with ``reply`` (e.g. ``451 4.3.0 Try again later``)."""
        self.data_answers.append(reply)

    def stop(self) -> None:
        self.controller.stop()


def start_scripted_smtp(*, starttls: bool = True, implicit_tls: bool = False,
                        users: dict[str, str] | None = None) -> ScriptedSmtp:
    """Start the server on a free loopback port."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    handle: ScriptedSmtp

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            if handle.data_answers:
                return handle.data_answers.popleft()
            handle.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                    "data": envelope.original_content or envelope.content,
                                    "tls": session.ssl is not None
                                    or server.transport.get_extra_info("ssl_object") is not None})
            return "250 Message accepted for delivery"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and users is not None:
            if users.get(auth_data.login.decode()) == auth_data.password.decode():
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    tls_context, ca_pem = make_tls_pair() if (starttls or implicit_tls) else (None, None)
    port = free_port()
    kwargs: dict[str, Any] = {}
    if users is not None:
        # aiosmtpd only counts STARTTLS as "TLS" for AUTH; with implicit TLS the whole session is encrypted
        kwargs.update(authenticator=authenticator, auth_required=not implicit_tls, auth_require_tls=not implicit_tls)
    if implicit_tls:
        kwargs["ssl_context"] = tls_context
    else:
        kwargs.update(tls_context=tls_context, require_starttls=starttls)
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, ready_timeout=10, **kwargs)
    handle = ScriptedSmtp(port, ca_pem, controller)
    controller.start()
    return handle
