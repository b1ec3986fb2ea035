"""Datetime parsing and the two renderings the API uses (DRF UTC ``Z`` and HogQL project tz)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC; naive values are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def render_drf(value: datetime | None) -> str | None:
    """Render like DRF's DateTimeField: UTC isoformat with ``Z``, microseconds only when set."""
    if value is None:
        return None
    text = to_utc(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def render_utc_fixed(value: datetime) -> str:
    """Render as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six fraction digits)."""
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def render_in_tz(value: datetime, tz: tzinfo) -> str:
    """Render a (naive = UTC) datetime in ``tz`` the way ``datetime.isoformat()`` does."""
    return to_utc(value).astimezone(tz).isoformat()


class TzRenderer:
    """Fast ``render_in_tz`` for naive-UTC datetimes (caches the offset per quarter hour)."""

    def __init__(self, tz: tzinfo) -> None:
        """Render into ``tz``."""
        self.tz = tz
        self._cache: dict[tuple[int, int, int, int, int], tuple[timedelta, str]] = {}

    def __call__(self, value: datetime) -> str:
        """Same output as ``render_in_tz(value, tz)``."""
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        key = (value.year, value.month, value.day, value.hour, value.minute // 15)
        hit = self._cache.get(key)
        if hit is None:
            offset = value.replace(tzinfo=UTC).astimezone(self.tz).utcoffset() or timedelta(0)
            suffix = datetime(2000, 1, 1, tzinfo=timezone(offset)).isoformat()[19:]
            hit = self._cache[key] = (offset, suffix)
        return (value + hit[0]).isoformat() + hit[1]


def parse_datetime(text: str, default_tz: tzinfo) -> datetime | None:
    """Parse an ISO-8601-ish string the way ``parseDateTime64BestEffortOrNull(x, 6)`` would.

    Args:
        text: Date, or date and time, with optional fraction (truncated to microseconds)
            and optional ``Z``/offset.
        default_tz: Zone used when the text carries no offset.

    Returns:
        An aware UTC datetime, or None when the text cannot be parsed.
    """
    match = _ISO.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, frac, offset = match.groups()
    micros = int((frac or "0")[:6].ljust(6, "0"))
    try:
        naive = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micros,
        )
    except ValueError:
        return None
    if offset is None:
        return naive.replace(tzinfo=default_tz).astimezone(UTC)
    if offset in ("Z", "z"):
        return naive.replace(tzinfo=UTC)
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return (naive - sign * delta).replace(tzinfo=UTC)


def to_epoch_us(value: datetime) -> int:
    """Microseconds since the Unix epoch."""
    delta = to_utc(value) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_epoch_us(micros: int) -> datetime:
    """Aware UTC datetime from microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=micros)


def naive_utc(value: datetime) -> datetime:
    """Naive UTC datetime (what DuckDB TIMESTAMP columns hold)."""
    return to_utc(value).replace(tzinfo=None)
