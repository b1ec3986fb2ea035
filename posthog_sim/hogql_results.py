"""HogQL result rows rendered as PostHog renders them.

PostHog's query view returns ``Response(result.model_dump())`` through ``SafeJSONRenderer``,
``orjson.dumps(data, option=orjson.OPT_UTC_Z)`` (posthog/renderers.py): a datetime is RFC 3339
in its column's time zone, ``Z`` when the offset is zero, with microseconds only when they are
non-zero. ClickHouse hands datetimes over here in UTC (``date_time_output_format = 'iso'``; its
'unix_timestamp' output garbles fractions before 1970), and the time zone comes from the column
type, as clickhouse-driver does.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

_TZ_IN_TYPE = re.compile(r"DateTime(?:64)?\((?:\d+\s*,\s*)?'([^']+)'\)")


def render_datetime(value: datetime) -> str:
    """Orjson with OPT_UTC_Z: isoformat, ``Z`` for a zero offset."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


class _Renderer:
    """ClickHouse ISO text (UTC) -> RFC 3339 in one zone (offsets cached per quarter hour)."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._cache: dict[int, tuple[timedelta, str]] = {}

    def __call__(self, text: str) -> str:
        utc = datetime.fromisoformat(text)
        key = (utc.year, utc.month, utc.day, utc.hour, utc.minute // 15)
        hit = self._cache.get(key)
        if hit is None:
            offset = utc.astimezone(self.tz).utcoffset() or timedelta(0)
            fixed = datetime(2000, 1, 1, tzinfo=timezone(offset))
            suffix = "Z" if not offset else fixed.isoformat()[19:]
            hit = self._cache[key] = (offset, suffix)
        return (utc + hit[0]).replace(tzinfo=None).isoformat() + hit[1]


def render_rows(rows: list[list[Any]], types: list[str]) -> list[list[Any]]:
    """Rows as PostHog's JSON has them (datetime columns converted, the rest as ClickHouse gave)."""
    converters: list[tuple[int, _Renderer]] = []
    for i, ch_type in enumerate(types):
        if "DateTime" in ch_type and not ch_type.startswith("Array"):
            match = _TZ_IN_TYPE.search(ch_type)
            converters.append((i, _Renderer(_zone(match.group(1) if match else "UTC"))))
    if not converters:
        return rows
    for row in rows:
        for i, convert in converters:
            value = row[i]
            if value is not None:
                row[i] = convert(value)
    return rows
