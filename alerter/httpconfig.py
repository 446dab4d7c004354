"""Alertmanager's ``http_config`` for webhook-style receivers: auth headers and TLS (always verified)."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import httpx
from pydantic import SecretStr, field_validator, model_validator

from cronwatch.config import Model, read_secret


class BasicAuth(Model):
    """``basic_auth``: username and password (inline or from a file)."""

    username: str
    password: SecretStr | None = None
    password_file: str | None = None


class Authorization(Model):
    """``authorization``: a scheme (default Bearer) and credentials (inline or from a file)."""

    type: str = "Bearer"
    credentials: SecretStr | None = None
    credentials_file: str | None = None


class TlsConfig(Model):
    """``tls_config``: a CA and client certificate; verification cannot be turned off."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False
    min_version: str | None = None

    @field_validator("insecure_skip_verify")
    @classmethod
    def _never(cls, v: bool) -> bool:
        if v:
            raise ValueError("insecure_skip_verify is not supported: cronwatch always verifies TLS; "
                             "give the server's CA as ca_file instead")
        return v


class HttpConfig(Model):
    """The subset of Prometheus' HTTP client config that receivers use."""

    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    bearer_token: SecretStr | None = None
    bearer_token_file: str | None = None
    tls_config: TlsConfig | None = None
    proxy_url: str | None = None
    follow_redirects: bool = True
    enable_http2: bool = False

    @model_validator(mode="after")
    def _one_auth(self) -> HttpConfig:
        given = [n for n in ("basic_auth", "authorization", "bearer_token", "bearer_token_file")
                 if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"at most one of basic_auth, authorization, bearer_token(_file) may be set, got {given}")
        return self

    def headers(self) -> dict[str, str]:
        """Authorization headers (secrets read now; never logged)."""
        if self.basic_auth is not None:
            pw = read_secret(self.basic_auth.password, self.basic_auth.password_file, "basic_auth.password") or ""
            raw = f"{self.basic_auth.username}:{pw}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        if self.authorization is not None:
            cred = read_secret(self.authorization.credentials, self.authorization.credentials_file,
                               "authorization.credentials") or ""
            return {"Authorization": f"{self.authorization.type} {cred}"}
        token = read_secret(self.bearer_token, self.bearer_token_file, "bearer_token")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def ssl_context(self, base_dir: Path) -> ssl.SSLContext | bool:
        """What aiohttp's ``ssl=`` needs: a context for ``tls_config``, else True (verify with system CAs)."""
        tls = self.tls_config
        if tls is None or not (tls.ca_file or tls.cert_file):
            return True
        ctx = ssl.create_default_context(cafile=str(base_dir / tls.ca_file) if tls.ca_file else None)
        if tls.cert_file and tls.key_file:
            ctx.load_cert_chain(str(base_dir / tls.cert_file), str(base_dir / tls.key_file))
        return ctx

    def needs_own_client(self) -> bool:
        """True when this config needs a client of its own (custom TLS or proxy)."""
        return self.tls_config is not None or self.proxy_url is not None

    def client(self, base_dir: Path, timeout: float) -> httpx.AsyncClient:
        """A client honouring ``tls_config`` and ``proxy_url`` (TLS always verified)."""
        return httpx.AsyncClient(verify=self.ssl_context(base_dir), proxy=self.proxy_url, timeout=timeout,
                                 follow_redirects=self.follow_redirects)
