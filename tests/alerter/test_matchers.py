"""Label matchers with Alertmanager's meaning: anchored regexes, absent label = ""."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerter.errors import MatcherError
from alerter.matchers import Matcher, MatchType, parse_matcher, parse_matchers

CASES = [
    ('task="db_backup"', {"task": "db_backup"}, True),
    ('task="db_backup"', {"task": "db_backup2"}, False),
    ('task!="db_backup"', {}, True),
    ('env=""', {}, True),
    ('env=""', {"env": "prod"}, False),
    ('env!=""', {}, False),
    ('severity=~"warning|info"', {"severity": "warning"}, True),
    ('severity=~"warn"', {"severity": "warning"}, False),  # anchored: no partial match
    ('severity=~"warn.*"', {"severity": "warning"}, True),
    ('severity=~"a|b"', {"severity": "xa"}, False),  # ^(?:a|b)$, not ^a|b$
    ('task=~"x"', {"task": "x\n"}, False),  # RE2's $ does not match before a final newline
    ('severity!~"warning|info"', {"severity": "critical"}, True),
    ('severity!~"warning|info"', {}, True),
    ('env=~".*"', {}, True),
    ('env=~".+"', {}, False),
    ("task=db_backup", {"task": "db_backup"}, True),
    ('msg="say \\"hi\\""', {"msg": 'say "hi"'}, True),
]


@pytest.mark.parametrize(("text", "labels", "expected"), CASES)
def test_matcher_table(text: str, labels: dict[str, str], expected: bool) -> None:
    """Each matcher matches exactly the label sets Alertmanager's would."""
    assert parse_matcher(text).matches(labels) is expected


def test_braced_list_and_round_trip() -> None:
    """A braced list parses into matchers whose text form parses back to the same matchers."""
    ms = parse_matchers('{task="a,b", severity=~"warning|info", env!="prod"}')
    assert [m.type for m in ms] == [MatchType.EQ, MatchType.RE, MatchType.NE]
    assert ms[0].value == "a,b"
    assert [parse_matcher(str(m)) for m in ms] == ms


def test_api_shape_round_trip() -> None:
    """The v2 API form (isRegex/isEqual) converts both ways for all four operators."""
    for op in MatchType:
        m = Matcher.make("a", op, "x")
        assert Matcher.from_api(m.to_api()) == m


@pytest.mark.parametrize("bad", ['task', '1abc="x"', 'sev=~"warn("', 'a="unterminated'])
def test_bad_matchers_are_errors(bad: str) -> None:
    """Malformed matchers raise MatcherError naming the problem."""
    with pytest.raises(MatcherError):
        parse_matchers(bad)


@given(name=st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True),
       value=st.text(max_size=20), op=st.sampled_from([MatchType.EQ, MatchType.NE]))
def test_text_form_round_trips(name: str, value: str, op: MatchType) -> None:
    """Any equality matcher printed as text parses back to itself, whatever its value holds."""
    m = Matcher.make(name, op, value)
    assert parse_matcher(str(m)) == m
    assert m.matches({name: value}) is (op is MatchType.EQ)


@given(value=st.text(alphabet="abc.*|", max_size=6), label=st.text(alphabet="abc", max_size=4))
def test_regex_is_full_match(value: str, label: str) -> None:
    """A regex matcher matches exactly when Python's fullmatch of the pattern does."""
    import re

    try:
        rx = re.compile(value)
    except re.error:
        return
    assert Matcher.make("a", MatchType.RE, value).matches({"a": label}) is (rx.fullmatch(label) is not None)
