"""The routing tree (Alertmanager's semantics) plus severity tiers.

A node matches when all its matchers match; the children are tried in order, a matching child
stops the search unless it has ``continue: true``; when no child matches, the node itself is
the match. Options are inherited from the parent unless set on the node.

Tiers: when an alert's ``severity`` has a tier, the tier's receivers and timings replace what the
node *inherited* and the root's settings (the root's are defaults). A value set on a matching
non-root node itself always wins. Groups of different tiers never
mix: the tier is part of the group key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from alerter.config import AlerterConfig, RouteConfig, TierConfig
from alerter.matchers import Matcher, matches_all

DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)
_TIMINGS = ("group_wait", "group_interval", "repeat_interval", "flap_hold")


@dataclass(frozen=True)
class RouteOpts:
    """The effective options of a node (or of a node for one tier)."""

    receivers: tuple[str, ...]
    group_by: frozenset[str] | None  # None: group by all labels ('...')
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    flap_hold: timedelta
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()


@dataclass
class Route:
    """A compiled node."""

    key: str
    matchers: list[Matcher]
    continue_: bool
    opts: RouteOpts
    own: RouteConfig
    is_root: bool = False
    routes: list[Route] = field(default_factory=list)

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The nodes an alert with ``labels`` is routed to (depth-first, ``continue`` honoured)."""
        if not matches_all(self.matchers, labels):
            return []
        out: list[Route] = []
        for child in self.routes:
            found = child.match(labels)
            out += found
            if found and not child.continue_:
                break
        return out or [self]


def _group_by(values: list[str] | None, parent: frozenset[str] | None) -> frozenset[str] | None:
    if values is None:
        return parent
    return None if "..." in values else frozenset(values)


def compile_route(cfg: RouteConfig, parent: RouteOpts | None = None, parent_key: str = "") -> Route:
    """Compile a :class:`RouteConfig` subtree with inherited options."""
    base = parent or RouteOpts((), frozenset(), DEFAULT_GROUP_WAIT, DEFAULT_GROUP_INTERVAL,
                               DEFAULT_REPEAT_INTERVAL, timedelta(0))
    opts = RouteOpts(
        receivers=(cfg.receiver,) if cfg.receiver else base.receivers,
        group_by=_group_by(cfg.group_by, base.group_by),
        group_wait=cfg.group_wait if cfg.group_wait is not None else base.group_wait,
        group_interval=cfg.group_interval or base.group_interval,
        repeat_interval=cfg.repeat_interval or base.repeat_interval,
        flap_hold=cfg.flap_hold if cfg.flap_hold is not None else base.flap_hold,
        mute_time_intervals=tuple(cfg.mute_time_intervals),  # not inherited (Alertmanager)
        active_time_intervals=tuple(cfg.active_time_intervals),
    )
    matchers = cfg.all_matchers()
    in_key = sorted(matchers, key=lambda m: (m.name, m.value, m.type.value))  # Alertmanager sorts them
    key = "{}" if parent is None else f"{parent_key}/{{{','.join(str(m) for m in in_key)}}}"
    node = Route(key, matchers, cfg.continue_, opts, cfg, is_root=parent is None)
    node.routes = [compile_route(c, opts, key) for c in cfg.routes]
    return node


def with_tier(node: Route, tier: TierConfig) -> RouteOpts:
    """``node``'s options for an alert of ``tier``: node's own settings > tier > inherited."""
    own, o = node.own, node.opts
    receivers = o.receivers
    if tier.receivers and (node.is_root or not own.receiver):
        receivers = tuple(tier.receivers)
    values = {}
    for name in _TIMINGS:
        mine = None if node.is_root else getattr(own, name)  # the root's settings are defaults; tiers win
        tiered = getattr(tier, name)
        values[name] = mine if mine is not None else tiered if tiered is not None else getattr(o, name)
    group_by = o.group_by
    if (node.is_root or own.group_by is None) and tier.group_by is not None:
        group_by = _group_by(tier.group_by, None)
    return RouteOpts(receivers, group_by, values["group_wait"], values["group_interval"],
                     values["repeat_interval"], values["flap_hold"],
                     o.mute_time_intervals or tuple(tier.mute_time_intervals),
                     o.active_time_intervals or tuple(tier.active_time_intervals))


@dataclass(frozen=True)
class Destination:
    """Where one alert goes: a node, its tier, and the effective options."""

    route: Route
    tier: str
    opts: RouteOpts

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels that identify the alert's group at this destination."""
        if self.opts.group_by is None:
            return dict(labels)
        return {k: v for k, v in labels.items() if k in self.opts.group_by}

    def group_key(self, group_labels: Mapping[str, str]) -> str:
        """Alertmanager's ``route key:group labels`` (plus ``#tier`` when a tier applies)."""
        body = ", ".join(f'{k}={_quote(v)}' for k, v in sorted(group_labels.items()))
        tier = f"#{self.tier}" if self.tier else ""
        return f"{self.route.key}{tier}:{{{body}}}"


def _quote(v: str) -> str:
    if "\\" not in v and '"' not in v and "\n" not in v:
        return f'"{v}"'
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class Router:
    """Routes label sets to destinations; results are cached per label set."""

    def __init__(self, cfg: AlerterConfig, cache_size: int = 100_000) -> None:
        self.root = compile_route(cfg.route)
        self.tiers = dict(cfg.tiers)
        self._cache: dict[frozenset[tuple[str, str]], list[Destination]] = {}
        self._cache_size = cache_size

    def destinations(self, labels: Mapping[str, str]) -> list[Destination]:
        """Every destination of an alert with ``labels``."""
        key = frozenset(labels.items())
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        out = []
        sev = labels.get("severity", "")
        tier = self.tiers.get(sev)  # type: ignore[call-overload]
        for node in self.root.match(labels):
            if tier is not None:
                out.append(Destination(node, sev, with_tier(node, tier)))
            else:
                out.append(Destination(node, "", node.opts))
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[key] = out
        return out

    def receivers_for(self, labels: Mapping[str, str]) -> list[str]:
        """Receiver names in routing order, without duplicates."""
        seen: list[str] = []
        for d in self.destinations(labels):
            for r in d.opts.receivers:
                if r not in seen:
                    seen.append(r)
        return seen
