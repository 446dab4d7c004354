"""Alertmanager time intervals: weekdays, times (end exclusive), days of month, months, zones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from alerter.timeintervals import TimeInterval

OFFHOURS = TimeInterval.model_validate({"name": "quiet", "time_intervals": [
    {"times": [{"start_time": "22:00", "end_time": "24:00"}, {"start_time": "00:00", "end_time": "08:00"}],
     "location": "Asia/Shanghai"},
    {"weekdays": ["saturday:sunday"], "location": "Asia/Shanghai"},
]})
MONTH_END = TimeInterval.model_validate({"name": "eom", "time_intervals": [
    {"days_of_month": ["-2:-1"], "months": ["february", "11:12"], "years": ["2026:2027"]}]})


@pytest.mark.parametrize(("when", "expected"), [
    (datetime(2026, 11, 23, 14, 0, tzinfo=UTC), True),   # Mon 22:00 Shanghai
    (datetime(2026, 11, 23, 13, 59, tzinfo=UTC), False),  # Mon 21:59 Shanghai
    (datetime(2026, 11, 24, 0, 0, tzinfo=UTC), False),   # Tue 08:00 Shanghai: end is exclusive
    (datetime(2026, 11, 23, 23, 59, tzinfo=UTC), True),  # Tue 07:59 Shanghai
    (datetime(2026, 11, 28, 6, 0, tzinfo=UTC), True),    # Sat 14:00 Shanghai
])
def test_quiet_hours(when: datetime, expected: bool) -> None:
    """Quiet hours hold in the interval's own time zone, with 24:00 and exclusive ends."""
    assert OFFHOURS.contains(when) is expected


@pytest.mark.parametrize(("when", "expected"), [
    (datetime(2026, 11, 30, 12, tzinfo=UTC), True),
    (datetime(2026, 11, 29, 12, tzinfo=UTC), True),
    (datetime(2026, 11, 28, 12, tzinfo=UTC), False),
    (datetime(2027, 2, 27, 12, tzinfo=UTC), True),  # February has 28 days in 2027
    (datetime(2026, 10, 31, 12, tzinfo=UTC), False),
    (datetime(2028, 11, 30, 12, tzinfo=UTC), False),
])
def test_negative_days_months_years(when: datetime, expected: bool) -> None:
    """Negative days count from the month's end; months by name or number; years bound it."""
    assert MONTH_END.contains(when) is expected


@pytest.mark.parametrize("spec", [{"weekdays": ["funday"]}, {"times": [{"start_time": "25:00", "end_time": "26:00"}]},
                                  {"location": "Mars/Olympus"}, {"days_of_month": ["0"]}])
def test_invalid_specs_rejected(spec: dict[str, object]) -> None:
    """Bad weekdays, times, zones and days are validation errors."""
    with pytest.raises(ValidationError):
        TimeInterval.model_validate({"name": "x", "time_intervals": [spec]})
