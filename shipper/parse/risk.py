"""Does a regular expression risk catastrophic backtracking? A conservative static check.

An expression is *risky* when it has an unbounded repeat inside another unbounded repeat
(exponential: ``(\\w+\\s?)*``) or over alternatives (``(a|a)*``), or two or more "loose" unbounded repeats (polynomial:
``.*x.*y`` over a long line). A repeat is not loose when it is possessive or inside an atomic
group, when it ends the expression, or when it is *delimited*: a single-character class
followed by a literal the class cannot match (``[^\\]]*\\]``, ``\\d+:``) can only stop in one
place. Risky patterns run on the ``regex`` engine with a time budget; the rest on ``re``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT}


def _is_digit(ch: str) -> bool:
    return ch.isdigit()


def _is_space(ch: str) -> bool:
    return ch.isspace()


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


_CATEGORY_TEST: dict[Any, Callable[[str], bool]] = {
    _c.CATEGORY_DIGIT: _is_digit,
    _c.CATEGORY_SPACE: _is_space,
    _c.CATEGORY_WORD: _is_word,
}
_CATEGORY_NOT = {_c.CATEGORY_NOT_DIGIT: _c.CATEGORY_DIGIT, _c.CATEGORY_NOT_SPACE: _c.CATEGORY_SPACE,
                 _c.CATEGORY_NOT_WORD: _c.CATEGORY_WORD}


def _class_matches(item: tuple[Any, Any], ch: str) -> bool | None:
    """Whether the one-character item matches ``ch`` (None: cannot tell)."""
    op, av = item
    code = ord(ch)
    if op == _c.LITERAL:
        return bool(av == code)
    if op == _c.NOT_LITERAL:
        return bool(av != code)
    if op == _c.ANY:
        return ch != "\n"
    if op == _c.IN:
        negate = False
        hit = False
        for sop, sav in av:
            if sop == _c.NEGATE:
                negate = True
            elif sop == _c.LITERAL:
                hit = hit or sav == code
            elif sop == _c.RANGE:
                hit = hit or sav[0] <= code <= sav[1]
            elif sop == _c.CATEGORY:
                if sav in _CATEGORY_TEST:
                    hit = hit or _CATEGORY_TEST[sav](ch)
                elif sav in _CATEGORY_NOT:
                    hit = hit or not _CATEGORY_TEST[_CATEGORY_NOT[sav]](ch)
                else:
                    return None
            else:
                return None
        return hit != negate
    return None


def _delimited(body: Any, follower: tuple[Any, Any] | None) -> bool:
    items = list(body)
    if follower is None:
        return True  # ends the expression
    if follower[0] == _c.AT and follower[1] == _c.AT_END:
        return True
    if len(items) != 1 or follower[0] != _c.LITERAL:
        return False
    matched = _class_matches(items[0], chr(follower[1]))
    return matched is False


def _has_unbounded(seq: Any) -> bool:
    for op, av in seq:
        if op in _REPEATS and av[1] == _c.MAXREPEAT:
            return True
        if op in _REPEATS or op == _c.POSSESSIVE_REPEAT:
            if _has_unbounded(av[2]):
                return True
        elif op == _c.SUBPATTERN and _has_unbounded(av[3]):
            return True
        elif op == _c.BRANCH and any(_has_unbounded(alt) for alt in av[1]):
            return True
    return False


def _has_branch(seq: Any) -> bool:
    for op, av in seq:
        if op == _c.BRANCH:
            return True
        if op == _c.SUBPATTERN and _has_branch(av[3]):
            return True
        if op in _REPEATS and _has_branch(av[2]):
            return True
    return False


class _Risk(Exception):
    pass


def _loose(seq: Any, follower: tuple[Any, Any] | None) -> int:
    """Number of loose unbounded repeats in ``seq`` (raises _Risk on nested repeats)."""
    items = list(seq)
    count = 0
    for k, (op, av) in enumerate(items):
        nxt = items[k + 1] if k + 1 < len(items) else follower
        if op in _REPEATS:
            _lo, hi, body = av
            if hi == _c.MAXREPEAT:
                if _has_unbounded(body) or _has_branch(body):
                    raise _Risk
                if not _delimited(body, nxt):
                    count += 1
                count += _loose(body, None)
            else:  # a bounded repeat runs its body up to ``hi`` times: (.*?,){11} is loose 11 times
                count += _loose(body, nxt) * min(hi, 2)
        elif op == _c.SUBPATTERN:
            count += _loose(av[3], nxt)
        elif op == _c.BRANCH:
            count += max((_loose(alt, nxt) for alt in av[1]), default=0)
        elif op in (_c.ATOMIC_GROUP, _c.POSSESSIVE_REPEAT):
            body = av if op == _c.ATOMIC_GROUP else av[2]
            if _loose(body, None) >= 2:
                raise _Risk
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            if _loose(av[1], None) >= 2:
                raise _Risk
    return count


def is_risky(expression: str) -> bool:
    """True when ``expression`` could backtrack catastrophically (see the module docstring)."""
    try:
        tree = _parser.parse(expression)
        return _loose(tree, None) >= 2
    except _Risk:
        return True
    except Exception:  # an expression the analyser does not understand: be careful
        return True


def is_anchored(expression: str) -> bool:
    """True when every match must start at the beginning (``^`` first, possibly inside groups)."""
    try:
        seq: Any = _parser.parse(expression)
    except Exception:
        return False
    while True:
        items = list(seq)
        if not items:
            return False
        op, av = items[0]
        if op == _c.AT:
            return bool(av == _c.AT_BEGINNING)
        if op == _c.SUBPATTERN:
            seq = av[3]
        elif op == _c.ATOMIC_GROUP:
            seq = av
        else:
            return False
