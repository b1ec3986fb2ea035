"""Window paging and the first-event search as algorithms, over an in-memory event table.

The end-to-end behaviour runs against the simulator in test_events.py; these tests drive
``read_pages`` directly over many data shapes, server row caps and
overload rules, which would take minutes over HTTP.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tap_posthog.events_windows import (
    CEILING,
    FLOOR,
    PageRequest,
    QueryOverloadError,
    WindowSizer,
    initial_width,
    read_pages,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_DAY = 86_400_000_000
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _us(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


def _text(us: int) -> str:
    return (EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Page:
    rows: list[tuple[int, str]]

    def __len__(self) -> int:
        return len(self.rows)

    def last_key(self) -> tuple[str, str]:
        ts, uuid = self.rows[-1]
        return _text(ts), uuid

    def first_timestamp(self) -> str | None:
        return _text(self.rows[0][0]) if self.rows else None

    def tail_timestamp(self) -> str | None:
        return _text(self.rows[(3 * len(self.rows)) // 4][0]) if self.rows else None


def _day(us: int) -> int:
    return us // US_PER_DAY


class _Table:
    """Rows ``(timestamp_us, uuid)`` in keyset order; a query costs the rows of its UTC days.

    That is what ClickHouse reads for the SQL PostHog prints from the tap's queries (the
    ``toDate(timestamp)`` sort key prunes by day; see ``events_windows``).
    """

    def __init__(self, stamps: list[int], *, cap: int | None = None, max_read: int | None = None):
        self.rows = sorted((ts, f"{i:08d}") for i, ts in enumerate(stamps))
        self.keys = [r[0] for r in self.rows]
        self.days = [_day(ts) for ts in self.keys]
        self.cap, self.max_read = cap, max_read
        self.read = 0
        self.pages: list[int] = []
        self.requests: list[PageRequest] = []

    def fetch(self, request: PageRequest) -> _Page:
        self.requests.append(request)
        lo, hi = _us(request.lo), _us(request.hi)
        first, last = _day(lo), _day(hi - 1)
        read = bisect.bisect_right(self.days, last) - bisect.bisect_left(self.days, first)
        if self.max_read is not None and read > self.max_read:
            self.pages.append(-1)  # refused
            raise QueryOverloadError("HTTP 504: Query has hit the max execution time")
        self.read += read
        start = bisect.bisect_left(self.keys, lo)
        if request.after is not None:
            after = (_us(datetime.fromisoformat(request.after[0])), request.after[1])
            start = max(start, bisect.bisect_right(self.rows, after))
        end = bisect.bisect_left(self.keys, hi)
        limit = min(request.limit, self.cap or request.limit)
        page = _Page(self.rows[start : min(end, start + limit)])
        self.pages.append(len(page))
        return page


def _read_all(
    table: _Table, page_rows: int = 50_000, start: datetime | None = None, on_narrow=None
) -> list:
    """Read everything as EventsStream does: a search for the first event without start."""
    lo = start or FLOOR
    sizer = WindowSizer(page_rows=page_rows, width=initial_width(_text(_us(lo)), 24))
    got = []
    pages = read_pages(
        table.fetch,
        lo=lo,
        range_hi=CEILING,
        open_from=NOW,
        after=None,
        sizer=sizer,
        on_narrow=on_narrow,
        find_first=start is None,
    )
    for page in pages:
        got.extend(page.rows)
    return got


def _empty_before_first_page(table: _Table) -> int:
    """Empty windows before the first page with rows (-1 in ``pages``: a refused query)."""
    first = next(i for i, rows in enumerate(table.pages) if rows > 0)
    return table.pages[:first].count(0)


def _uniform(rng: random.Random, n: int, lo: datetime, hi: datetime) -> list[int]:
    a, b = _us(lo), _us(hi)
    return [rng.randrange(a, b) for _ in range(n)]


def _shape(name: str, n: int, seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    day = timedelta(days=1)
    if name == "uniform":
        return _uniform(rng, n, NOW - 30 * day, NOW)
    if name == "recent":
        return (
            _uniform(rng, n * 15 // 100, NOW - day, NOW)
            + _uniform(rng, n * 40 // 100, NOW - 30 * day, NOW - day)
            + _uniform(rng, n - n * 55 // 100, NOW - 365 * day, NOW - 30 * day)
        )
    if name == "bursts":
        stamps = _uniform(rng, n * 40 // 100, NOW - 90 * day, NOW)
        for days_ago in (75, 50, 20):
            at = NOW - days_ago * day
            stamps += _uniform(rng, n // 5, at, at + timedelta(minutes=5))
        return stamps
    if name == "ties":  # many events per timestamp, more than a page on one instant
        return [_us(NOW - day)] * (n // 2) + _uniform(rng, n - n // 2, NOW - 3 * day, NOW)
    raise ValueError(name)


SHAPES = ("uniform", "recent", "bursts", "ties")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cap", [None, 10_000, 2_500])
def test_every_row_exactly_once_under_any_server_row_cap(shape, cap):
    table = _Table(_shape(shape, 60_000), cap=cap)
    assert _read_all(table) == table.rows


@pytest.mark.parametrize("shape", SHAPES)
def test_a_window_holding_exactly_a_multiple_of_100_rows_is_still_exact(shape):
    # Windows of round sizes make short pages that look like a server cap.
    stamps = [ts - ts % US_PER_DAY for ts in _shape(shape, 12_000)]  # whole days: round counts
    table = _Table(stamps[:12_000])
    assert _read_all(table, page_rows=5_000) == table.rows


def test_under_a_10000_row_cap_windows_shrink_to_it():
    table = _Table(_shape("uniform", 100_000), cap=10_000)
    assert _read_all(table) == table.rows
    # Once two short pages of 10,000 reveal the cap, windows aim at it: few extra pages.
    assert len([rows for rows in table.pages if rows > 0]) <= 100_000 / (0.75 * 10_000) + 4


def test_windows_follow_density_cheaply_when_days_hold_less_than_a_page():
    # ~330 events a day for twenty months, read from a start_date.
    start = NOW - timedelta(days=600)
    table = _Table(_uniform(random.Random(3), 200_000, start, NOW))
    assert _read_all(table, start=start) == table.rows
    assert table.read <= 1.5 * len(table.rows)
    data_pages = sorted(table.pages)
    assert data_pages[len(data_pages) // 2] >= 20_000


def test_a_day_denser_than_a_page_is_read_once_per_page():
    day = NOW - timedelta(days=40)
    table = _Table(_uniform(random.Random(4), 120_001, day, day + timedelta(hours=6)))
    assert _read_all(table) == table.rows
    # Three pages (the fewest possible), each reading the day once; the first is the search's
    # first window holding rows; the empty windows before and after it read nothing.
    assert [rows for rows in table.pages if rows > 0] == [50_000, 50_000, 20_001]
    assert table.read == 3 * len(table.rows)


@pytest.mark.parametrize("shape", ["uniform", "recent"])
def test_a_first_sync_reads_each_event_little_more_than_once(shape):
    # Without start_date: the first event is found by empty windows that read nothing, the
    # first holding rows spans at most a third of the time left, and windows end at day
    # boundaries.
    table = _Table(_shape(shape, 200_000))
    assert _read_all(table) == table.rows
    assert table.read <= 1.5 * len(table.rows)
    assert _empty_before_first_page(table) <= 28
    data_pages = sorted(rows for rows in table.pages if rows > 0)
    assert data_pages[len(data_pages) // 2] >= 20_000


def test_the_search_for_the_first_event_narrows_under_overload():
    stamps = _shape("uniform", 50_000)  # about 1,700 a day: a query may read two days
    table = _Table(stamps, max_read=4_000)
    widths: list[timedelta] = []
    assert _read_all(table, on_narrow=lambda width, limit: widths.append(width)) == table.rows
    # Overloads before the first page narrow the search, each narrowing reported (the tap
    # logs it) and narrower than the one before; no query read more than the server allows.
    first = next(i for i, rows in enumerate(table.pages) if rows > 0)
    refused = table.pages[:first].count(-1)
    assert refused
    assert widths[:refused] == sorted(widths[:refused], reverse=True)
    assert len(set(widths[:refused])) == refused


def test_the_search_ends_near_the_run_start_when_nothing_lies_before_it():
    future = _us(NOW + timedelta(days=400))
    table = _Table([future])
    assert _read_all(table) == table.rows
    # Empty windows up to within a day of the run's start, then the rest of the range in one
    # window, which reads the one (clock-skewed) event's day only.
    assert table.pages[-1] == 1
    assert all(rows == 0 for rows in table.pages[:-1])
    assert len(table.pages) - 1 <= 28
    assert NOW - timedelta(days=1) <= table.requests[-1].lo < NOW
    assert table.requests[-1].hi == CEILING
    assert table.read == 1


def test_overload_narrows_window_then_continues_exactly():
    # ~2,500 events a month over ten years; a query may read two months' worth.
    table = _Table(_uniform(random.Random(5), 300_000, NOW - timedelta(days=3650), NOW),
                   max_read=6_000)  # fmt: skip
    assert _read_all(table, page_rows=10_000) == table.rows


def test_overload_past_the_narrowest_window_and_page_raises():
    stamps = [_us(NOW - timedelta(days=2))] * 5_000  # 5,000 rows in one instant
    table = _Table(stamps, max_read=100)
    with pytest.raises(QueryOverloadError):
        _read_all(table, page_rows=5_000)


def test_a_first_sync_from_the_floor_finds_events_anywhere():
    for when in (
        datetime(1900, 1, 1, 0, 0, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        EPOCH,
        datetime(2201, 5, 5, tzinfo=UTC),
    ):
        table = _Table([_us(when), _us(when + timedelta(days=400))])
        assert _read_all(table) == table.rows
        # Each event's day is read once; the empty windows around them read nothing.
        assert table.read == 2
        assert len(table.pages) <= 29


def test_an_empty_table_reads_nothing_in_at_most_29_queries():
    table = _Table([])
    assert _read_all(table) == []
    assert table.read == 0
    assert 0 < len(table.pages) <= 29


