"""HTTP delivery shared by the JSON receivers, and the one place outcomes are classified.

* transport problems (timeouts, refused connections, resets) → RETRY; a TLS certificate that does
  not verify or a malformed URL → PERMANENT (retrying cannot fix configuration);
* HTTP 429 and 5xx (and 408) → RETRY, honouring ``Retry-After``; other 4xx and 3xx → PERMANENT;
* HTTP 200 with a non-zero ``errcode`` (WeCom, DingTalk) is a failure: rate-limit and "busy"
  codes → RETRY, everything else (bad key, bad signature, too long) → PERMANENT.

Every detail string passes through a :class:`Scrubber` so robot keys, signatures and passwords
never reach a log line, an error, a metric or the status API.
"""

from __future__ import annotations

import logging
import re
import ssl
import urllib.parse
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from alerter.model import Outcome, Result

MAX_DETAIL = 300
RATE_LIMITED = "rate limited"  # marks details of rate-limit answers (the robots then wait a whole window)
_SECRET_QUERY_KEYS = frozenset({"key", "access_token", "sign", "token", "secret", "sentry_key"})


class Scrubber:
    """Replaces every known secret (raw and URL-encoded) in a text by ``****``."""

    def __init__(self, *secrets: str | None) -> None:
        found: set[str] = set()
        for s in secrets:
            if s and len(s) >= 4:
                found.update({s, urllib.parse.quote(s, safe=""), urllib.parse.quote_plus(s)})
        self._secrets = sorted(found, key=len, reverse=True)

    def add(self, secret: str | None) -> None:
        """Also hide ``secret`` from now on."""
        if secret and len(secret) >= 4:
            extra = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
            self._secrets = sorted(set(self._secrets) | extra, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, "****")
        return text[:MAX_DETAIL]


def redact_url(url: str) -> str:
    """``url`` without userinfo and with secret-looking query values replaced by ``****``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<invalid url>"
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    clean = [(k, "****" if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in query]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, urllib.parse.urlencode(clean, safe="*"), ""))


class RedactUrls(logging.Filter):
    """Rewrites URLs in log records so query secrets (``key=``, ``access_token=``, ``sign=``) never print.

    httpx logs every request URL at INFO ("HTTP Request: POST https://...?key=..."); the robots'
    keys live in that URL, so this filter is installed on the ``httpx`` logger.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact_url(str(a)) if _looks_like_url(a) else a for a in record.args)
        if isinstance(record.msg, str) and "://" in record.msg and "?" in record.msg:
            record.msg = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), record.msg)
        return True


_URL_IN_TEXT = re.compile(r"https?://[^\s\"']+")


def _looks_like_url(value: object) -> bool:
    text = str(value) if isinstance(value, str | httpx.URL) else ""
    return "://" in text and "?" in text


def install_log_redaction() -> None:
    """Attach :class:`RedactUrls` to the ``httpx`` logger once."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactUrls) for f in logger.filters):
        logger.addFilter(RedactUrls())


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now`` (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


@dataclass
class HttpAnswer:
    """What the server said."""

    status: int
    headers: dict[str, str]
    body: bytes
    data: Any = field(default=None)


async def post(http: httpx.AsyncClient, url: str, body: bytes, *, headers: dict[str, str] | None = None,
               timeout_s: float, scrub: Scrubber) -> HttpAnswer | Result:
    """POST ``body``; a transport problem comes back as a classified :class:`Result`."""
    hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    try:
        resp = await http.post(url, content=body, headers=hdrs, timeout=timeout_s)
    except httpx.TimeoutException:
        return Result(Outcome.RETRY, f"timeout after {timeout_s:g}s")
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        return Result(Outcome.PERMANENT, scrub(f"invalid URL: {exc}"))
    except httpx.TransportError as exc:
        if _is_cert_error(exc):
            return Result(Outcome.PERMANENT, "TLS certificate verification failed (configure a CA, never turn verification off)")
        return Result(Outcome.RETRY, scrub(f"{type(exc).__name__}: {exc}"))
    data: Any = None
    try:
        data = orjson.loads(resp.content) if resp.content else None
    except orjson.JSONDecodeError:
        data = None
    return HttpAnswer(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content, data)


def _is_cert_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def classify_status(answer: HttpAnswer, now: float, scrub: Scrubber) -> Result | None:
    """The outcome decided by the HTTP status alone, or None for 2xx (look at the body next)."""
    status = answer.status
    if 200 <= status < 300:
        return None
    snippet = scrub(answer.body[:200].decode("utf-8", errors="replace"))
    if status == 429:
        return Result(Outcome.RETRY, f"HTTP 429 {RATE_LIMITED}: {snippet}",
                      parse_retry_after(answer.headers.get("retry-after"), now))
    if status >= 500 or status == 408:
        return Result(Outcome.RETRY, f"HTTP {status}: {snippet}", parse_retry_after(answer.headers.get("retry-after"), now))
    return Result(Outcome.PERMANENT, f"HTTP {status}: {snippet}")


def classify_errcode(data: Any, *, retry_codes: frozenset[int], rate_limit_codes: frozenset[int],
                     scrub: Scrubber, rate_limit_wait: float = 60.0) -> Result:
    """Read a robot's ``{"errcode": .., "errmsg": ..}`` answer (HTTP 200 does not mean delivered)."""
    if not isinstance(data, dict) or "errcode" not in data:
        return Result(Outcome.RETRY, "HTTP 200 without an errcode in the answer")
    try:
        code = int(data["errcode"])
    except (TypeError, ValueError):
        return Result(Outcome.RETRY, "HTTP 200 with a non-numeric errcode")
    msg = scrub(str(data.get("errmsg", "")))
    if code == 0:
        return Result(Outcome.SENT, "ok")
    if code in rate_limit_codes:
        return Result(Outcome.RETRY, f"errcode {code} ({RATE_LIMITED}): {msg}", rate_limit_wait)
    if code in retry_codes:
        return Result(Outcome.RETRY, f"errcode {code}: {msg}")
    return Result(Outcome.PERMANENT, f"errcode {code}: {msg}")


def dumps(payload: Any) -> bytes:
    """JSON as sent on the wire: UTF-8, not ASCII-escaped (so byte limits measure the real size)."""
    return orjson.dumps(payload)


install_log_redaction()
