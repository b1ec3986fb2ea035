"""Where a first sync without ``start_date`` starts: the UTC day of the project's first event.

Found with bounded existence probes (``SELECT timestamp ... WHERE lo <= timestamp < hi LIMIT
1``) instead of ``SELECT min(timestamp) FROM events``, which reads every event the project has
under PostHog's 10-second limit and answers an empty table with the epoch (so an event stamped
1970-01-01 or earlier looked like "no events"). A probe over an empty range reads nothing (the
table's sort key starts with ``toDate(timestamp)``); one over events stops at the first row. A
binary search on days over ClickHouse's whole ``DateTime64`` range needs about 17 probes; an
empty project ends after the first. A probe the server finds too expensive is split in two.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tap_posthog.events_windows import FLOOR, MIN_WINDOW, QueryOverloadError

if TYPE_CHECKING:
    from collections.abc import Callable

_DAY = timedelta(days=1)


def _any(exists: Callable[[datetime, datetime], bool], lo: datetime, hi: datetime) -> bool:
    """``exists(lo, hi)``, splitting the range while the server finds a probe too expensive."""
    try:
        return exists(lo, hi)
    except QueryOverloadError:
        if hi - lo <= MIN_WINDOW:
            raise
        mid = lo + (hi - lo) / 2
        return _any(exists, lo, mid) or _any(exists, mid, hi)


def _day_between(lo: datetime, hi: datetime) -> datetime:
    """A UTC midnight strictly after ``lo``, near the middle of ``[lo, hi)``."""
    mid = lo + (hi - lo) / 2
    day = mid.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if day > lo else day + _DAY


def first_event_day(
    exists: Callable[[datetime, datetime], bool], hi: datetime, lo: datetime = FLOOR
) -> datetime | None:
    """The UTC midnight at or before the first event in ``[lo, hi)``, or None without events.

    ``lo`` must be a UTC midnight. ``exists(a, b)`` tells whether an event lies in ``[a, b)``
    and raises :class:`QueryOverloadError` when the server refuses the probe as too expensive.
    """
    if not _any(exists, lo, hi):
        return None
    # Invariant: nothing before `empty`; some event in [empty, found).
    empty, found = lo, hi
    while found - empty > _DAY:
        mid = _day_between(empty, found)
        if mid >= found:
            break
        if _any(exists, empty, mid):
            found = mid
        else:
            empty = mid
    return empty
