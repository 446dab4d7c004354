"""The compiled fingerprint (``alerter/_speedups.c``) equals the Python reference for any label set;
``test_vs_alertmanager.py`` checks both against the real Alertmanager's."""

from __future__ import annotations

import importlib
from collections import OrderedDict
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerter.model import fingerprint, fingerprint_py

compiled = importlib.import_module("alerter._speedups")  # built by `pip install -e .` (setup.py)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=12))
def test_compiled_equals_python(labels: dict[str, str]) -> None:
    try:
        want = fingerprint_py(labels)
    except UnicodeEncodeError:  # a lone surrogate: both refuse it
        with pytest.raises(UnicodeEncodeError):
            compiled.fingerprint(labels)
        return
    assert compiled.fingerprint(labels) == want
    assert fingerprint(labels) == want


def test_known_values_and_order() -> None:
    assert compiled.fingerprint({}) == fingerprint_py({}) == "cbf29ce484222325"  # the FNV-1a offset basis
    a = {"alertname": "TaskFailed", "task": "数据同步", "é": "", "": "x"}
    assert compiled.fingerprint(a) == fingerprint_py(a) == compiled.fingerprint(dict(reversed(list(a.items()))))


def test_other_mappings_and_values_go_to_python() -> None:
    """A mapping that is not a dict, or a value that is not a str: the Python reference decides."""
    labels = {"a": "1", "b": "2"}
    assert fingerprint(MappingProxyType(labels)) == fingerprint(OrderedDict(labels)) == fingerprint_py(labels)
    with pytest.raises(TypeError):
        compiled.fingerprint(MappingProxyType(labels))
    with pytest.raises(TypeError):
        compiled.fingerprint({"a": 1})
    with pytest.raises(AttributeError):  # what the reference raises for a non-str value
        fingerprint({"a": 1})  # type: ignore[dict-item]
