"""The tap's one place for datetimes: parsing, the UTC rendering every stream emits, ranges.

Every stream, the config checks and the events state go through :func:`parse_datetime` and
:func:`to_utc_string`; :func:`hogql_utc_text` is a faster path for HogQL's own timestamps that
falls back to them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: ClickHouse ``DateTime64``'s range, where PostHog keeps event times; a bound outside it can
#: not be compared in a query. [1900-01-01, 2299-12-31 23:59:59.999999]
CLICKHOUSE_MIN = datetime(1900, 1, 1, tzinfo=UTC)
CLICKHOUSE_MAX = datetime(2299, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def parse_datetime(value: str | datetime) -> datetime:
    """Parse an ISO-8601 string (``Z``, offsets, optional fraction) into an aware UTC datetime.

    Naive values are taken as UTC.

    Raises:
        ValueError: ``value`` is not an ISO-8601 datetime, or it is one whose UTC instant falls
            outside years 1-9999 (e.g. ``9999-12-31T23:00:00-05:00``).
    """
    if isinstance(value, datetime):
        parsed = value
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            msg = f"{value!r} is not an ISO-8601 date-time (like 2026-01-02T03:04:05Z)"
            raise ValueError(msg) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        msg = f"{value!s} falls outside years 0001-9999 once converted to UTC"
        raise ValueError(msg) from None


def to_utc_string(value: str | datetime) -> str:
    """Render a datetime as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (one fixed, sortable format).

    The year always has four digits (``0999-...``), unlike ``strftime("%Y")`` on glibc.
    """
    return parse_datetime(value).isoformat(timespec="microseconds")[:-6] + "Z"


def utc_or_none(value: str | datetime | None) -> str | None:
    """Like :func:`to_utc_string`, passing ``None`` and empty strings through as ``None``."""
    if value is None or value == "":
        return None
    return to_utc_string(value)


def check_query_range(name: str, value: str | datetime) -> str | None:
    """An error message if ``value`` cannot bound an events query, else None."""
    try:
        parsed = parse_datetime(value)
    except ValueError as exc:
        return f"{name}: {exc}"
    if not CLICKHOUSE_MIN <= parsed <= CLICKHOUSE_MAX:
        return (
            f"{name} must fall between 1900-01-01 and 2299-12-31 (UTC), the range of "
            f"PostHog's event timestamps (ClickHouse DateTime64); got {value!s}"
        )
    return None


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def hours(value: float) -> timedelta:
    """Return a timedelta of ``value`` hours."""
    return timedelta(hours=value)


#: UTC ``YYYY-MM-DDTHH`` by local ``YYYY-MM-DDTHH`` + whole-hour offset (see ``hogql_utc_text``).
_UTC_HOURS: dict[str, str] = {}


def hogql_utc_text(value: str | datetime) -> str:
    """:func:`to_utc_string` for the timestamps HogQL returns, several times as fast.

    HogQL renders UTC as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (the tap's queries ask for UTC;
    posthog/hogql_queries/query_runner.py) and other zones as ``...[.ffffff]+HH:MM``. In UTC,
    or with a whole-hour offset, only the date and the hour can change, so they are checked
    (and converted) once per hour and offset; anything else takes the full parse.
    """
    if type(value) is str:
        n = len(value)
        if n == 27 and value[19] == "." and value[26] == "Z":
            frac, offset = value[19:26], "Z"
        elif n == 20 and value[19] == "Z":
            frac, offset = ".000000", "Z"
        elif n == 32 and value[19] == ".":
            frac, offset = value[19:26], value[26:]
        elif n == 25:
            frac, offset = ".000000", value[19:]
        else:
            return to_utc_string(value)
        if (
            (offset == "Z" or (offset[0] in "+-" and offset[3:] == ":00"))
            and value[13] == value[16] == ":"
            and value[14:16] < "60"
            and value[17:19] < "60"
            and (digits := value[14:16] + value[17:19] + frac[1:]).isdigit()
            and digits.isascii()
        ):
            key = value[:13] + offset
            head = _UTC_HOURS.get(key)
            if head is None:
                if len(_UTC_HOURS) > 100_000:
                    _UTC_HOURS.clear()
                try:
                    head = to_utc_string(value[:13] + ":00:00" + offset)[:13]
                except ValueError:
                    return to_utc_string(value)  # the error names the value itself
                _UTC_HOURS[key] = head
            return head + value[13:19] + frac + "Z"
    return to_utc_string(value)
