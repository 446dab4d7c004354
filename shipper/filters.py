"""Per-input filters and routing (pure): drop by level or regex, sample, send error/fatal to a second prefix.

Sampling is decided from the document id, so a re-run keeps exactly the same documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from shipper.logmetrics import field

ERROR_LEVELS = frozenset({"error", "fatal"})


class InputRules:
    """The compiled filters and index routing of one input."""

    def __init__(self, prefix: str, *, drop_levels: Iterable[str] = (), drop_regex: Iterable[str] = (),
                 sample: float = 1.0, error_prefix: str | None = None) -> None:
        self.prefix = prefix
        self.error_prefix = error_prefix
        self.drop_levels = frozenset(drop_levels)
        regexes = list(drop_regex)
        self.drop_rx = re.compile("|".join(f"(?:{rx})" for rx in regexes)) if regexes else None
        self.sample = sample
        self._threshold = int(sample * 0xFFFFFFFF)
        self.active = bool(self.drop_levels or self.drop_rx is not None or sample < 1.0)

    def keep(self, doc: dict[str, Any], raw: str, doc_id: str) -> bool:
        """True when the document should be indexed."""
        if self.drop_levels and field(doc, "log.level") in self.drop_levels:
            return False
        if self.drop_rx is not None and self.drop_rx.search(raw):
            return False
        return not (self.sample < 1.0 and int(doc_id[:8], 16) > self._threshold)

    def prefix_for(self, doc: dict[str, Any]) -> str:
        """The index prefix for ``doc``: the error prefix for error/fatal records when configured."""
        if self.error_prefix is not None and field(doc, "log.level") in ERROR_LEVELS:
            return self.error_prefix
        return self.prefix
