"""``--interval-start`` / ``--interval-end`` parsing: a half-open UTC window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from omniload.errors import UsageError

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_instant(value: str, flag: str) -> datetime:
    """Parse an ISO date or datetime into an aware UTC datetime.

    A date means midnight UTC; a datetime without an offset is UTC.

    Raises:
        UsageError: The value is not an ISO date or datetime.
    """
    text = value.strip()
    try:
        if _DATE_RE.match(text):
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"invalid {flag} {value!r}: expected an ISO date (2026-01-31) or datetime "
            "(2026-01-31T12:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_utc(value: datetime) -> str:
    """Render an aware datetime as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Interval:
    """A half-open window ``start <= t < end``; a missing bound is open."""

    start: datetime | None = None
    end: datetime | None = None

    @property
    def is_set(self) -> bool:
        """True when at least one bound is given."""
        return self.start is not None or self.end is not None

    def describe(self) -> str:
        """Human-readable form for the plan and summary."""
        lo = iso_utc(self.start) if self.start else "-inf"
        hi = iso_utc(self.end) if self.end else "+inf"
        return f"[{lo}, {hi})"


def parse_interval(start: str | None, end: str | None) -> Interval:
    """Build the window from the two flags.

    Raises:
        UsageError: A bound is invalid or the end is not after the start.
    """
    lo = parse_instant(start, "--interval-start") if start else None
    hi = parse_instant(end, "--interval-end") if end else None
    if lo is not None and hi is not None and hi <= lo:
        raise UsageError(
            f"--interval-end ({iso_utc(hi)}) must be after --interval-start ({iso_utc(lo)})"
        )
    return Interval(lo, hi)
