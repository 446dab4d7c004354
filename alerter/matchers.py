"""Label matchers with Alertmanager's meaning: ``=``, ``!=``, ``=~``, ``!~``.

An absent label equals ``""``; regular expressions are anchored (``^(?:re)$``, i.e. a full
match). Text forms accepted: ``name="value"``, ``name=value``, ``name=~"re"`` and a braced,
comma-separated list ``{a="b", c!~"d|e"}`` (what amtool and Alertmanager's config accept).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alerter.errors import MatcherError

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.S)
_UNESCAPE = {"n": "\n", "\\": "\\", '"': '"'}


class MatchType(enum.Enum):
    """The four matcher operators."""

    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True)
class Matcher:
    """One ``name op value`` condition on a label set."""

    name: str
    type: MatchType
    value: str
    _re: re.Pattern[str] | None = field(default=None, compare=False, repr=False, hash=False)

    @classmethod
    def make(cls, name: str, type_: MatchType, value: str) -> Matcher:
        """Build a matcher, compiling and anchoring its regex; bad input is a :class:`MatcherError`."""
        if not _NAME.match(name):
            raise MatcherError(f"invalid label name {name!r} in matcher")
        compiled = None
        if type_ in (MatchType.RE, MatchType.NRE):
            try:
                compiled = re.compile(f"(?:{value})", re.S)  # used with fullmatch: anchored at both ends
            except re.error as exc:
                raise MatcherError(f"invalid regular expression {value!r} for label {name}: {exc}") from None
        return cls(name, type_, value, compiled)

    def matches_value(self, value: str) -> bool:
        """Whether a label value (``""`` when absent) satisfies this matcher."""
        if self.type is MatchType.EQ:
            return value == self.value
        if self.type is MatchType.NE:
            return value != self.value
        assert self._re is not None
        hit = self._re.fullmatch(value) is not None
        return hit if self.type is MatchType.RE else not hit

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfies this matcher; an absent label counts as ``""``."""
        return self.matches_value(labels.get(self.name, ""))

    @property
    def is_regex(self) -> bool:
        return self.type in (MatchType.RE, MatchType.NRE)

    @property
    def is_equal(self) -> bool:
        return self.type in (MatchType.EQ, MatchType.RE)

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.type.value}"{escaped}"'

    def to_api(self) -> dict[str, Any]:
        """Alertmanager's v2 API shape."""
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex, "isEqual": self.is_equal}

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Matcher:
        """Parse Alertmanager's v2 API shape (``isEqual`` defaults to true)."""
        try:
            name, value = data["name"], data["value"]
        except (KeyError, TypeError):
            raise MatcherError("a matcher needs 'name' and 'value'") from None
        if not isinstance(name, str) or not isinstance(value, str):
            raise MatcherError("matcher 'name' and 'value' must be strings")
        is_regex, is_equal = bool(data.get("isRegex", False)), bool(data.get("isEqual", True))
        kind = {(False, True): MatchType.EQ, (False, False): MatchType.NE,
                (True, True): MatchType.RE, (True, False): MatchType.NRE}[(is_regex, is_equal)]
        return cls.make(name, kind, value)


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        body, out, i = raw[1:-1], [], 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                out.append(_UNESCAPE.get(body[i + 1], "\\" + body[i + 1]))
                i += 2
                continue
            if ch == '"':
                raise MatcherError(f"unescaped double quote in matcher value {raw}")
            out.append(ch)
            i += 1
        return "".join(out)
    return raw


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher such as ``severity=~"warning|info"``."""
    m = _MATCHER.match(text)
    if m is None:
        raise MatcherError(f"bad matcher {text!r}: expected name=\"value\" with =, !=, =~ or !~")
    return Matcher.make(m.group(1), MatchType(m.group(2)), _unquote(m.group(3)))


def _split_top(body: str) -> list[str]:
    parts, cur, quoted, escape = [], [], False, False
    for ch in body:
        if escape:
            cur.append(ch)
            escape = False
            continue
        if ch == "\\":
            cur.append(ch)
            escape = True
            continue
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if quoted:
        raise MatcherError(f"unterminated quoted value in {body!r}")
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


def parse_matchers(text: str) -> list[Matcher]:
    """Parse ``{a="b", c=~"d"}`` or ``a="b", c=~"d"`` (or a single matcher) into matchers."""
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise MatcherError(f"bad matchers {text!r}: missing closing brace")
        body = body[1:-1]
    return [parse_matcher(p) for p in _split_top(body)]


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches ``labels`` (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def legacy_matchers(match: Mapping[str, str] | None, match_re: Mapping[str, str] | None) -> list[Matcher]:
    """Alertmanager's deprecated ``match:``/``match_re:`` maps as matchers."""
    out = [Matcher.make(k, MatchType.EQ, str(v)) for k, v in (match or {}).items()]
    out += [Matcher.make(k, MatchType.RE, str(v)) for k, v in (match_re or {}).items()]
    return out
