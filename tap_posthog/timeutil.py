"""Datetime parsing and the one UTC rendering every stream emits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def parse_datetime(value: str | datetime) -> datetime:
    """Parse an ISO-8601 string (``Z``, offsets, optional fraction) into an aware UTC datetime.

    Naive values are taken as UTC.
    """
    if isinstance(value, datetime):
        parsed = value
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_utc_string(value: str | datetime) -> str:
    """Render a datetime as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (one fixed, sortable format)."""
    return parse_datetime(value).strftime(UTC_FORMAT)


def utc_or_none(value: str | datetime | None) -> str | None:
    """Like :func:`to_utc_string`, passing ``None`` and empty strings through as ``None``."""
    if value is None or value == "":
        return None
    return to_utc_string(value)


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def hours(value: float) -> timedelta:
    """Return a timedelta of ``value`` hours."""
    return timedelta(hours=value)
