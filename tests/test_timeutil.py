"""The fast HogQL timestamp rendering agrees with the plain parse-and-convert."""

from __future__ import annotations

import pytest

from tap_posthog.timeutil import hogql_utc_text, to_utc_string

CASES = [
    "2026-01-02T03:04:05.123456-08:00",
    "2026-01-02T03:04:05-08:00",
    "2026-12-31T20:00:00.000001-05:00",  # crosses the year in UTC
    "2026-03-01T00:30:00+01:00",  # back into February
    "2024-02-29T23:59:59.999999-01:00",  # leap day forward
    "2026-06-15T10:00:00+05:30",  # half-hour offset: full parse
    "2026-06-15T10:00:00+00:00",
    "2026-06-15T10:00:00Z",
    "2026-06-15T10:00:00.5+02:00",
]


@pytest.mark.parametrize("value", CASES)
def test_fast_render_matches_full_parse(value):
    assert hogql_utc_text(value) == to_utc_string(value)
    assert hogql_utc_text(value) == hogql_utc_text(value)  # cached path gives the same
