"""The one muting interface: silences and inhibition rules both say *who* mutes a label set.

Time intervals mute a whole route rather than a label set; the engine checks them per flush
(:meth:`alerter.engine.Engine.time_muted`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol


class Muter(Protocol):
    """Something that can mute alerts."""

    def muted_by(self, labels: Mapping[str, str], now: datetime) -> list[str]:
        """Ids of what mutes ``labels`` at ``now`` (silence ids, inhibiting fingerprints); empty if none."""
