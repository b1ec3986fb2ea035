"""Paging the events range: time windows sized from measured density, keyset pages, narrowing.

Pure algorithm, no HTTP: :func:`read_pages` asks a ``fetch`` callable for one keyset page at a
time and decides the next query from what the last one returned.

What a query costs: PostHog's events table is partitioned by ``toYYYYMM(timestamp)`` and
sorted by ``(team_id, toDate(timestamp), event, ...)`` (posthog/models/event/sql.py). The tap's
queries carry the modifier ``convertToProjectTimezone: false`` (see ``hogql``), so PostHog
prints ``events.timestamp`` bare and ClickHouse's primary key prunes by UTC day: a query reads
the rows of every UTC day its time range touches, whatever its ``LIMIT`` (rows within a day
are sorted by event, not time). So each page's lower bound is its cursor's timestamp, and a
window never ends before the end of its first day (the rest of that day costs nothing more)
and otherwise ends at a day boundary; within that, its width aims at :data:`TARGET_SHARE` of
a page at the density the previous pages showed, with no upper bound short of the rest of
the range.

A page shorter than the limit ends its window only when its length cannot be a server-side
row cap (older PostHog caps HogQL at 10,000 rows): a length that is a multiple of 100, or the
cap already learned, continues from the page's last row instead, which also confirms or refutes
the cap at no extra request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from tap_posthog.timeutil import parse_datetime

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: Lowest and highest instants a ClickHouse ``DateTime64`` holds: the whole readable range.
FLOOR = datetime(1900, 1, 1, tzinfo=UTC)
CEILING = datetime(2299, 12, 31, tzinfo=UTC)
_WHOLE_RANGE = CEILING - FLOOR
MIN_WINDOW = timedelta(minutes=1)
MIN_PAGE = 1000
#: A window aims at this share of a page, so density changes rarely overflow it.
TARGET_SHARE = 0.75
#: How much a window may widen after a page with few rows (empty windows: always this much).
MAX_GROWTH = 16.0
#: After an overloaded query, windows widen at most this much per page.
CAUTIOUS_GROWTH = 2.0
#: Fewer rows than this in a window say too little about density to widen it without limit.
TRUSTED_ROWS = 10
#: A short page whose length is a multiple of this may be a server-side row cap.
CAP_STEP = 100
#: The search for a first sync's first event stops below this: the rest is one window.
SEARCH_RESOLUTION = timedelta(days=1)
#: Each window of the first-event search covers this share of what is left below its bound.
#: A third: the first window holding rows spans at most a third of the time from the first
#: event to the run's start (a half would span up to half of it, reading more rows than a page
#: returns), at the price of up to 28 empty windows for an empty project instead of 16.
SEARCH_SHARE = 1 / 3
#: A window reaching the run's start with this much left before it covers only half of it.
NEAR_START_SPLIT = timedelta(days=14)
#: A page's last quarter this much denser than the page, within BURST_SPAN, is a burst.
BURST = 4.0
BURST_SPAN = timedelta(hours=6)


class QueryOverloadError(Exception):
    """The server refused a query as too expensive (time or memory); narrow it."""


class Page(Protocol):
    """One page of events as :func:`read_pages` needs it."""

    def __len__(self) -> int:
        """Rows on the page."""
        ...

    def last_key(self) -> tuple[str, str]:
        """``(timestamp, uuid)`` of the page's last row (UTC ISO text)."""
        ...

    def first_timestamp(self) -> str | None:
        """Timestamp of the page's first row (None when empty)."""
        ...

    def tail_timestamp(self) -> str | None:
        """Timestamp of the row three quarters into the page (None when empty)."""
        ...


@dataclass(frozen=True)
class PageRequest:
    """One keyset query: rows in ``[lo, hi)`` after ``after`` (``(timestamp, uuid)``)."""

    lo: datetime
    hi: datetime
    limit: int
    after: tuple[str, str] | None


@dataclass
class WindowSizer:
    """Chooses each window's upper bound from the density of the pages before it."""

    page_rows: int
    width: timedelta
    growth: float = MAX_GROWTH
    #: Rows per second the next window is sized for (None until a page said something).
    rate: float | None = field(default=None)
    #: Average rows per second of the last page with rows (before a burst its tail ended in).
    last_average: float = 0.0
    #: Set once a query was overloaded: windows no longer widen to day ends, and grow slowly.
    narrowed: bool = False
    #: While a first sync looks for its first event: the bound it lies below (else None).
    search_below: datetime | None = None

    @property
    def target_rows(self) -> float:
        """Rows a window aims at."""
        return self.page_rows * TARGET_SHARE

    def window_end(self, lo: datetime, range_hi: datetime, open_from: datetime) -> datetime:
        """The upper bound of the window starting at ``lo``.

        A window that would leave less than half a window extends to ``range_hi``. Unless
        narrowed after an overload: a window that reaches ``open_from`` (the run's start:
        beyond it only clock-skewed future events exist), or comes within half a window of
        it before any density is known, extends to ``range_hi`` too (once density is known
        and :data:`NEAR_START_SPLIT` or more is left before ``open_from``, the window ends
        halfway there instead, or a quarter of its width on, if later); any other ends at the
        start of a UTC day, never before the end of ``lo``'s day (ClickHouse reads that day's
        rows anyway).

        While searching for the first event (:attr:`search_below` set), a window is the first
        :data:`SEARCH_SHARE` of what is left below that bound, ending at the start of a UTC
        day: windows below the first event are empty and read nothing, and the first that
        holds rows is read like any other. Once less than :data:`SEARCH_RESOLUTION` is left,
        the rest of the range is one window.
        """
        if self.search_below is not None:
            if self.search_below - lo > SEARCH_RESOLUTION:
                step = (self.search_below - lo) * SEARCH_SHARE
                return max(_next_day(lo), _day_start(lo + step))
            self.search_below = None
            return range_hi
        hi = lo + self.width
        if range_hi - hi < self.width / 2:
            return range_hi
        if self.narrowed:
            return hi
        margin = self.width / 2 if self.rate is None else timedelta(0)
        if hi + margin >= open_from:
            rest = open_from - lo
            if self.rate is not None and rest >= NEAR_START_SPLIT:
                # Density measured on older events says little about the newest: read the
                # stretch up to the run's start in halves (products grow; bursts are recent),
                # none shorter than a quarter of the sized window.
                return max(_next_day(lo), _day_start(lo + max(rest / 2, self.width / 4)))
            return range_hi
        return min(range_hi, max(_next_day(lo), _day_start(hi)))

    def full_page(
        self,
        lo: datetime,
        last: datetime,
        rows: int,
        tail: datetime | None,
        first: datetime | None = None,
    ) -> None:
        """A page filled before its window ended: ``rows`` rows lie in ``[first, last]``.

        ``tail`` is the timestamp of the row three quarters into the page: the density of the
        last quarter counts when it is higher, so windows shrink fast into a denser stretch.
        A last quarter within a few hours and much denser than the rest is a burst.
        ``first`` (the page's first row) bounds the rows from below when the page started
        after ``lo`` (a window beginning in a stretch without events).
        """
        self.search_below = None
        if first is not None and first > lo:
            lo = first
        span = (last - lo).total_seconds()
        if span <= 0:
            self.width = MIN_WINDOW
            return
        average, recent = rows / span, _tail_rate(rows, last, tail)
        self._measured(average, recent)
        self.width = max(MIN_WINDOW, _seconds(self.target_rows / self.rate))
        if tail is not None and tail > lo and last - tail < BURST_SPAN and recent > BURST * average:
            # The page ended in a burst: read the rest of the burst's day (ClickHouse reads
            # it anyway) plus what the density before the burst fills.
            before = (rows * 3 // 4) / max((tail - lo).total_seconds(), 1e-6)
            rest_of_day = _next_day(last) - last
            self.width = min(_WHOLE_RANGE, rest_of_day + _seconds(self.target_rows / before))
            self.last_average = before

    def window_done(
        self,
        lo: datetime,
        hi: datetime,
        rows: int,
        tail: datetime | None,
        occupied: tuple[datetime, datetime] | None = None,
    ) -> None:
        """A window ended: it held ``rows`` rows in ``[lo, hi)`` (``tail`` as in full_page).

        ``occupied`` is ``(first, last)``, the timestamps of its first and last row. Density
        counts over the stretch they span (at least a quarter of the window): a window that
        reached into months without events would otherwise understate it, and the next
        window, sized from it, would overflow where events resume (an undersized window
        costs a request; an overflowing one reads rows it does not return).

        Density is the highest of this window's, its last quarter's and the previous page's
        average: where events thin out, windows widen one page later, so a window sized from a
        sparse stretch does not overflow where the density returns; empty windows keep it.
        """
        span = hi - lo
        if rows == 0:  # an empty window read nothing: widen fast, even after an overload
            if self.search_below is None:
                self.width = min(_WHOLE_RANGE, max(self.width, span) * MAX_GROWTH)
            return
        self.search_below = None
        end = hi
        if occupied is not None and rows >= TRUSTED_ROWS:
            first, last = occupied
            span = max(last - first, span / 4)
            end = last
        self._measured(rows / max(span.total_seconds(), 1e-6), _tail_rate(rows, end, tail))
        wanted = _seconds(self.target_rows / self.rate)
        if self.narrowed or rows < TRUSTED_ROWS:
            wanted = min(wanted, span * self.growth)
        self.width = max(MIN_WINDOW, wanted)

    def _measured(self, average: float, recent: float) -> None:
        """Size for the highest of a page's average, its last quarter's and the previous average."""
        self.rate = max(average, recent, self.last_average)
        self.last_average = average

    def narrow(self, lo: datetime, hi: datetime) -> bool:
        """After an overloaded query over ``[lo, hi)``: a quarter of it; False if minimal.

        While searching for the first event, the search continues below ``hi`` instead.
        """
        if self.search_below is not None:
            self.search_below = hi
            self.width = (hi - lo) * SEARCH_SHARE
            return True
        self.narrowed = True
        self.growth = CAUTIOUS_GROWTH
        if hi - lo <= MIN_WINDOW:
            return False
        self.width = max(MIN_WINDOW, (hi - lo) / 4)
        return True


def _seconds(value: float) -> timedelta:
    """``value`` seconds, at most the whole readable range."""
    return timedelta(seconds=min(value, _WHOLE_RANGE.total_seconds()))


def _day_start(value: datetime) -> datetime:
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def _next_day(value: datetime) -> datetime:
    return _day_start(value) + timedelta(days=1) if value < CEILING - timedelta(days=1) else CEILING


def _tail_rate(rows: int, end: datetime, tail: datetime | None) -> float:
    """Rows per second in the last quarter of a page (0 when too few rows to tell)."""
    if tail is None or rows < TRUSTED_ROWS * 4:
        return 0.0
    return (rows - (3 * rows) // 4) / max((end - tail).total_seconds(), 1e-6)


def initial_width(lo: str, window_hours: float) -> timedelta:
    """The first window's width: ``window_hours``, or the whole range from :data:`FLOOR`.

    From FLOOR without a search (``read_pages(find_first=False)``), one query over the whole
    range returns the first page wherever the first event lies; it reads every event once.
    """
    if parse_datetime(lo) <= FLOOR:
        return CEILING - FLOOR
    return timedelta(hours=window_hours)


def _at(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def read_pages(
    fetch: Callable[[PageRequest], Page],
    *,
    lo: datetime,
    range_hi: datetime,
    open_from: datetime,
    after: tuple[str, str] | None,
    sizer: WindowSizer,
    on_narrow: Callable[[timedelta, int], None] | None = None,
    find_first: bool = False,
) -> Iterator[Page]:
    """Yield every page of ``[lo, range_hi)`` after the cursor ``after``, in keyset order.

    The caller consumes each page before asking for the next. ``fetch`` raises
    :class:`QueryOverloadError` for a query the server found too expensive: the window
    narrows to a quarter (down to :data:`MIN_WINDOW`), then the page size (down to
    :data:`MIN_PAGE`); past both the error propagates.

    ``find_first`` (a first sync without ``start_date``): the first windows climb through
    ``[lo, open_from)``, each covering a third of what is left (see
    :meth:`WindowSizer.window_end`), instead of one query over the whole range, which would
    read every event once before the first page. Empty windows
    read nothing; the first that holds rows returns them as a page, so finding the first
    event costs no query of its own. An overloaded window narrows the search below it. At
    most 28 empty windows precede the first page (or the last window, of an empty project).
    """
    if find_first:
        sizer.search_below = open_from
    limit = sizer.page_rows
    suspected_cap: int | None = None
    if after is not None:
        lo = max(lo, parse_datetime(after[0]))
    while lo < range_hi:
        hi = sizer.window_end(lo, range_hi, open_from)
        try:
            page = fetch(PageRequest(lo, hi, limit, after))
        except QueryOverloadError:
            if not sizer.narrow(lo, hi):
                if limit <= MIN_PAGE:
                    raise
                limit = max(MIN_PAGE, limit // 4)
                sizer.page_rows = limit
            if on_narrow is not None:
                on_narrow(sizer.width, limit)
            continue
        yield page
        rows = len(page)
        if rows:
            after = page.last_key()
        if rows and rows < limit and rows == suspected_cap:
            # Two short pages of one length in a row: the server caps pages there.
            limit = sizer.page_rows = rows
        capped = rows >= limit or (rows > 0 and rows % CAP_STEP == 0)
        if capped and after is not None:
            last = parse_datetime(after[0])
            sizer.full_page(lo, last, rows, _at(page.tail_timestamp()), _at(page.first_timestamp()))
            suspected_cap = rows if rows < limit else None
            lo = max(lo, last)
        else:
            first = _at(page.first_timestamp())
            occupied = (first, parse_datetime(after[0])) if first and after else None
            sizer.window_done(lo, hi, rows, _at(page.tail_timestamp()), occupied)
            suspected_cap = None
            lo = hi
