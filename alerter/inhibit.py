"""Inhibition rules (Alertmanager's semantics).

A target alert is inhibited when a *firing* source alert has the same values for every label in
``equal`` (absent equals absent). When an alert matches both sides of a rule, a source that also
matches the target side cannot inhibit it, so two such alerts never mute each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from alerter.config import InhibitRuleConfig
from alerter.matchers import Matcher, matches_all
from alerter.model import Alert


class InhibitRule:
    """One compiled rule with its cache of source alerts, keyed by their ``equal`` values."""

    def __init__(self, cfg: InhibitRuleConfig) -> None:
        self.sources: list[Matcher] = cfg.sources()
        self.targets: list[Matcher] = cfg.targets()
        self.equal = tuple(cfg.equal)
        self._cache: dict[tuple[str, ...], dict[str, Alert]] = {}

    def _key(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(labels.get(n, "") for n in self.equal)

    def observe(self, alert: Alert) -> None:
        """Remember ``alert`` if it matches the source side."""
        if matches_all(self.sources, alert.labels):
            self._cache.setdefault(self._key(alert.labels), {})[alert.fingerprint] = alert

    def forget(self, fp: str, labels: Mapping[str, str]) -> None:
        """Drop a source alert that left the store."""
        bucket = self._cache.get(self._key(labels))
        if bucket is not None:
            bucket.pop(fp, None)
            if not bucket:
                self._cache.pop(self._key(labels), None)

    def inhibited_by(self, labels: Mapping[str, str], now: datetime) -> str | None:
        """Fingerprint of a firing source alert inhibiting ``labels``, or None."""
        if not matches_all(self.targets, labels):
            return None
        two_sided = matches_all(self.sources, labels)
        for src in self._cache.get(self._key(labels), {}).values():
            if src.resolved_at(now):
                continue
            if two_sided and matches_all(self.targets, src.labels):
                continue
            return src.fingerprint
        return None


class Inhibitor:
    """All inhibition rules."""

    def __init__(self, rules: Iterable[InhibitRuleConfig]) -> None:
        self.rules = [InhibitRule(r) for r in rules]

    def observe(self, alert: Alert) -> None:
        """Feed an ingested alert (its latest version) to every rule."""
        for r in self.rules:
            r.observe(alert)

    def forget(self, fp: str, labels: Mapping[str, str]) -> None:
        for r in self.rules:
            r.forget(fp, labels)

    def muted_by(self, labels: Mapping[str, str], now: datetime) -> list[str]:
        """Fingerprints of the alerts inhibiting ``labels`` (the first rule that applies)."""
        out = []
        for r in self.rules:
            fp = r.inhibited_by(labels, now)
            if fp is not None:
                out.append(fp)
                break
        return out
