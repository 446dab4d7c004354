"""Pure pieces: UTF-8 truncation on line boundaries, the sliding token bucket, outcome classification."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alerter.model import Outcome
from alerter.receivers._http import (
    HttpAnswer,
    Scrubber,
    classify_errcode,
    classify_status,
    parse_retry_after,
    redact_url,
)
from alerter.receivers._ratelimit import TokenBucket
from alerter.receivers._truncate import cut_bytes, cut_lines, fit_alerts, utf8_len

LINES = st.lists(st.text(alphabet=st.sampled_from("ab中文🔴 \t"), max_size=40), min_size=1, max_size=30)


@given(LINES, st.integers(min_value=8, max_value=400))
def test_cut_lines_respects_bytes_and_lines(lines: list[str], limit: int) -> None:
    """The result never exceeds the byte limit and keeps only whole lines (plus the note) when cut."""
    text = "\n".join(lines)
    out = cut_lines(text, limit, "…cut")
    assert utf8_len(out) <= limit
    if out != text and len(out.split("\n")) > 1:
        kept = out.split("\n")[:-1]
        if kept == [kept[0]] and kept[0].endswith("…") and kept[0] != lines[0]:  # one huge first line, cut
            assert lines[0].startswith(kept[0][:-1])
        else:
            assert kept == lines[: len(kept)]


def test_cut_bytes_never_splits_a_character() -> None:
    """Cutting inside a multi-byte character drops the whole character."""
    assert cut_bytes("中文", 4) == "中" and cut_bytes("中文", 2) == ""


def test_fit_alerts_finds_the_largest_count() -> None:
    """Binary search picks the most alerts that fit and reports the rest as left out."""

    def render(k: int) -> str:
        return "\n".join(["x" * 10] * k) + (f"\n{20 - k} left out" if k < 20 else "")

    text, omitted = fit_alerts(render, 20, 100)
    assert utf8_len(text) <= 100 and omitted == 20 - text.count("x" * 10) and omitted > 0


def test_bucket_never_exceeds_capacity_in_any_window() -> None:
    """20 per 60 s in any sliding window: tokens come back exactly a window after being spent."""
    b = TokenBucket(20, 60)
    assert all(b.take(0.0) for _ in range(20)) and not b.take(1.0)
    assert b.wait_time(1.0) == 59.0
    assert all(b.take(60.0) for _ in range(20)) and not b.take(60.0)


def test_bucket_exhaust_after_server_limit() -> None:
    """When the server says we are over, the bucket waits a whole window."""
    b = TokenBucket(20, 60)
    b.take(0.0)
    b.exhaust(10.0)
    assert b.available(10.0) == 0 and b.wait_time(10.0) == 50.0


def test_classification_table() -> None:
    """HTTP 200 + errcode≠0 is failure; rate-limit codes, 429, 5xx retry; other 4xx and bad keys are permanent."""
    scrub = Scrubber()

    def status(code: int, headers: dict[str, str] | None = None) -> Outcome | None:
        r = classify_status(HttpAnswer(code, headers or {}, b""), 0.0, scrub)
        return r.outcome if r else None

    assert status(200) is None and status(429) is Outcome.RETRY and status(503) is Outcome.RETRY
    assert status(400) is Outcome.PERMANENT and status(404) is Outcome.PERMANENT and status(302) is Outcome.PERMANENT
    rl, busy = frozenset({45009}), frozenset({-1})

    def code(data: object) -> Outcome:
        return classify_errcode(data, retry_codes=busy, rate_limit_codes=rl, scrub=scrub).outcome

    assert code({"errcode": 0}) is Outcome.SENT and code({"errcode": 45009}) is Outcome.RETRY
    assert code({"errcode": -1}) is Outcome.RETRY and code({"errcode": 93000}) is Outcome.PERMANENT
    assert code({"errcode": 310000}) is Outcome.PERMANENT and code("garbage") is Outcome.RETRY


def test_retry_after_and_redaction() -> None:
    """Retry-After as seconds or HTTP date; URLs lose their keys, details lose every secret."""
    assert parse_retry_after("7", 0) == 7 and parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", 0) == 60
    assert parse_retry_after("soon", 0) is None
    assert redact_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123") == \
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****"
    assert "s3cr3t!" not in Scrubber("s3cr3t!")("error near s3cr3t%21 and s3cr3t!")
