"""Datetime parsing and rendering, checked against values whose UTC form is known by construction.

Each generated value starts as a UTC instant and an offset; the local text is written out with
plain integer formatting, so the expected UTC rendering never goes through the code under test
(nor through ``datetime.fromisoformat`` or ``strftime``).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tap_posthog.timeutil import (
    check_query_range,
    hogql_utc_text,
    parse_datetime,
    to_utc_string,
)

_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_SPAN_US = int((datetime(9999, 12, 31, tzinfo=UTC) - _EPOCH).total_seconds()) * 1_000_000


def _text(instant: datetime) -> str:
    return (
        f"{instant.year:04d}-{instant.month:02d}-{instant.day:02d}T{instant.hour:02d}:"
        f"{instant.minute:02d}:{instant.second:02d}"
    )


def _generated(
    rng: random.Random, n: int, *, whole_hours: bool, utc: bool = False
) -> list[tuple[str, str]]:
    """``(local text as HogQL renders it, expected UTC rendering)`` pairs.

    ``utc``: as HogQL renders UTC (``Z``, the fraction only when non-zero).
    """
    cases = []
    while len(cases) < n:
        # Half the values near the year boundaries and the recent past, where bugs hide.
        if rng.random() < 0.5:
            year = rng.choice([1, 2, 999, 1000, 1899, 1900, 1969, 1970, 2024, 2026, 9998, 9999])
            days = 364 if year == 9999 else 366
            instant = datetime(year, 1, 1, tzinfo=UTC) + timedelta(
                microseconds=rng.randrange(days * 86_400 * 1_000_000)
            )
        else:
            instant = _EPOCH + timedelta(microseconds=rng.randrange(_SPAN_US))
        if rng.random() < 0.3:
            instant = instant.replace(microsecond=0)
        expected = f"{_text(instant)}.{instant.microsecond:06d}Z"
        if utc:
            fraction = f".{instant.microsecond:06d}" if instant.microsecond else ""
            cases.append((f"{_text(instant)}{fraction}Z", expected))
            continue
        minutes = rng.choice([0, 30, 45]) if not whole_hours else 0
        offset_minutes = rng.randint(-12, 14) * 60 + (minutes if rng.random() < 0.5 else 0)
        if abs(offset_minutes) > 14 * 60:
            continue
        try:
            local = instant + timedelta(minutes=offset_minutes)
        except OverflowError:
            continue
        sign = "-" if offset_minutes < 0 else "+"
        oh, om = divmod(abs(offset_minutes), 60)
        fraction = f".{local.microsecond:06d}" if (local.microsecond or rng.random() < 0.5) else ""
        text = f"{_text(local)}{fraction}{sign}{oh:02d}:{om:02d}"
        cases.append((text, expected))
    return cases


@pytest.mark.parametrize(
    ("whole_hours", "utc"),
    [(True, False), (False, False), (True, True)],
    ids=["whole-hour-offsets", "any-offsets", "utc-z"],
)
def test_fast_hogql_rendering_matches_an_independent_reference(whole_hours, utc):
    rng = random.Random(f"timeutil:{whole_hours}:{utc}")
    cases = _generated(rng, 20_000, whole_hours=whole_hours, utc=utc)
    fast = [hogql_utc_text(text) for text, _ in cases]
    assert fast == [expected for _, expected in cases]
    # Second pass: the per-hour cache answers now; it must agree too.
    assert [hogql_utc_text(text) for text, _ in cases] == fast
    assert [to_utc_string(text) for text, _ in cases] == [expected for _, expected in cases]


def test_z_and_naive_values_are_utc():
    assert to_utc_string("2026-06-15T10:00:00Z") == "2026-06-15T10:00:00.000000Z"
    assert to_utc_string("2026-06-15T10:00:00") == "2026-06-15T10:00:00.000000Z"
    assert hogql_utc_text("2026-06-15T10:00:00.5+02:00") == "2026-06-15T08:00:00.500000Z"


def test_years_below_1000_keep_four_digits():
    assert to_utc_string("0999-03-04T05:06:07+01:00") == "0999-03-04T04:06:07.000000Z"


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:00:00-05:00",  # past year 9999 in UTC
        "0001-01-01T00:30:00+01:00",  # before year 1 in UTC
        "10000-01-01T00:00:00Z",
        "2026-01-01T00:00:00+25:00",
        "2026-13-01T00:00:00Z",
        "yesterday",
    ],
)
def test_unparseable_or_unrepresentable_values_raise_value_error(value):
    with pytest.raises(ValueError, match=r"ISO-8601|0001-9999"):
        parse_datetime(value)


def test_query_range_names_the_setting_and_the_bounds():
    assert check_query_range("start_date", "1969-07-20T20:17:40Z") is None
    message = check_query_range("start_date", "0999-01-01T00:00:00Z")
    assert message is not None
    assert message.startswith("start_date must fall between 1900-01-01 and 2299-12-31")
    assert "0999-01-01" in message
    assert check_query_range("end_date", "2300-01-01T00:00:00Z") is not None
    assert "end_date" in (check_query_range("end_date", "9999-12-31T23:00:00-05:00") or "")
