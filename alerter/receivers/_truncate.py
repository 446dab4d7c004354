"""Cut messages to a channel's byte limit: UTF-8 bytes, on line boundaries, saying what was left out.

Two steps, both pure:

* :func:`fit_alerts` finds the largest number of alerts whose rendering (with a note saying how
  many were left out) fits the limit — by binary search over the count, so the note is exact.
* :func:`cut_lines` is the safety net for a text that is still too long (a huge annotation): it
  keeps whole lines while they fit, then cuts the last line on a character boundary.
"""

from __future__ import annotations

from collections.abc import Callable

OMISSION_MARK = "…"


def utf8_len(text: str) -> int:
    """Length of ``text`` in UTF-8 bytes (what the robots count)."""
    return len(text.encode("utf-8"))


def cut_bytes(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that is at most ``max_bytes`` UTF-8 bytes (never splits a character)."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[: max(max_bytes, 0)].decode("utf-8", errors="ignore")


def cut_lines(text: str, max_bytes: int, note: str = "") -> str:
    """Cut ``text`` to ``max_bytes`` on a line boundary and append ``note`` (on its own line) when cut."""
    if utf8_len(text) <= max_bytes:
        return text
    tail = ("\n" + note) if note else ""
    budget = max_bytes - utf8_len(tail)
    if budget <= 0:
        return cut_bytes(note, max_bytes)
    kept: list[str] = []
    used = 0
    for line in text.split("\n"):
        cost = utf8_len(line) + (1 if kept else 0)
        if used + cost > budget:
            if not kept:  # a single huge first line: cut it on a character boundary
                room = budget - utf8_len(OMISSION_MARK)
                if room <= 0:
                    return cut_bytes(note, max_bytes)
                kept.append(cut_bytes(line, room) + OMISSION_MARK)
            break
        kept.append(line)
        used += cost
    return "\n".join(kept) + tail


def fit_alerts(render: Callable[[int], str], total: int, max_bytes: int,
               measure: Callable[[str], int] = utf8_len) -> tuple[str, int]:
    """Render with as many of ``total`` alerts as fit in ``max_bytes``; returns (text, alerts left out).

    ``render(k)`` renders the first ``k`` alerts and must mention ``total - k`` left out when
    ``k < total``. Measured by ``measure`` (UTF-8 bytes of the text by default).
    """
    full = render(total)
    if measure(full) <= max_bytes:
        return full, 0
    lo, hi = 0, total - 1  # the largest k in [lo, hi] that fits; k = 0 may not fit either
    best: tuple[str, int] | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        text = render(mid)
        if measure(text) <= max_bytes:
            best = (text, total - mid)
            lo = mid + 1
        else:
            hi = mid - 1
    if best is not None:
        return best
    return render(0), total
