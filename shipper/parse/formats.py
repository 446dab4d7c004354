"""The zero-configuration formats, in the order auto-detection tries them (names in formats.grok)."""

from __future__ import annotations

CW_FORMATS: tuple[str, ...] = (
    "CW_SPRING",
    "CW_PYTHON_BRACKET",
    "CW_PYTHON_DASH",
    "CW_GOSTD",
    "CW_GIN",
    "CW_SYSLOG3164",
    "CW_SYSLOG5424",
    "CW_PYTHON_FLASK",
    "CW_PYTHON_BASIC",
    "CW_GIN_DEBUG",
    "CW_SYSLOG_ISO",
    "CW_ISO_LEVEL",
    "CW_ISO_MESSAGE",
    "CW_LEVEL_MESSAGE",
)
