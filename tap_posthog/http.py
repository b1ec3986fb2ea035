"""Retry policy and client-side rate budget for PostHog requests."""

from __future__ import annotations

import collections
import email.utils
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import requests

_AVAILABLE_IN_RE = re.compile(r"available in (\d+(?:\.\d+)?) second", re.IGNORECASE)

#: PostHog's documented per-team limits: (per minute, per hour).
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "query": (240, 2400),  # POST /query/ (HogQL)
    "analytics": (240, 1200),  # ClickHouse-backed lists: persons
    "crud": (480, 4800),  # everything else
}


def stated_wait(response: requests.Response) -> float | None:
    """Return the wait a 429/503 response asks for, in seconds, if it states one.

    PostHog puts it in the body ("Expected available in N seconds.") and sends no
    ``Retry-After`` there; proxies and 503s may send ``Retry-After`` (seconds or HTTP date).
    """
    match = _AVAILABLE_IN_RE.search(response.text or "")
    if match:
        return float(match.group(1))
    header = response.headers.get("Retry-After")
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        when = email.utils.parsedate_to_datetime(header)
        return max(0.0, when.timestamp() - time.time()) if when else None


@dataclass
class RetryPolicy:
    """When to retry, and how long to wait first.

    Server-side failures (429, 5xx) are retried up to ``max_attempts`` with exponential
    backoff, or after the wait the server states. Transport failures (refused, reset,
    timed out) share one time budget, ``transport_budget``, so an unreachable host
    fails within a minute.
    """

    max_attempts: int = 8
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_stated_wait: float = 3600.0
    transport_budget: float = 55.0

    def server_wait(self, attempt: int, response: requests.Response) -> float | None:
        """Seconds to wait before retrying a 429/5xx response, or None to give up."""
        if attempt >= self.max_attempts:
            return None
        wait = stated_wait(response)
        if wait is not None:
            return min(wait, self.max_stated_wait)
        return self._backoff(attempt)

    def transport_wait(self, attempt: int, elapsed: float) -> float | None:
        """Seconds to wait after a transport failure, or None once the time budget is spent."""
        wait = min(self._backoff(attempt), 8.0)
        if elapsed + wait >= self.transport_budget:
            return None
        return wait

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))


@dataclass
class _Window:
    """Request times of one endpoint class, with its limits."""

    per_minute: float
    per_hour: float
    stamps: collections.deque[float] = field(default_factory=collections.deque)
    slowdown: float = 1.0


class RateBudget:
    """Paces requests per endpoint class to stay under PostHog's per-minute and per-hour limits.

    ``share`` is the fraction of the team's limit this client allows itself (the limits are
    shared by every user and dashboard of the organisation). ``time_scale`` divides the
    windows: 60 makes a "minute" last one second (used with the simulator's scaled limits).
    After a 429 the class slows down; each success recovers a little.
    """

    def __init__(
        self,
        limits: dict[str, tuple[float, float]] | None = None,
        *,
        share: float = 0.8,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Create a budget; ``limits`` maps class to (per minute, per hour)."""
        self._scale = time_scale
        self._clock = clock
        self._sleep = sleep
        self._windows = {
            name: _Window(per_minute * share, per_hour * share)
            for name, (per_minute, per_hour) in (limits or DEFAULT_LIMITS).items()
        }
        self.waited = 0.0

    def scale_wait(self, seconds: float) -> float:
        """Convert a wait the server states (its own seconds) to real seconds."""
        return seconds / self._scale

    def acquire(self, endpoint_class: str) -> None:
        """Block until one more request of ``endpoint_class`` fits the budget, then record it."""
        window = self._windows[endpoint_class]
        minute, hour = 60.0 / self._scale, 3600.0 / self._scale
        while True:
            now = self._clock()
            stamps = window.stamps
            while stamps and stamps[0] <= now - hour:
                stamps.popleft()
            wait = max(
                self._wait_for(stamps, now, minute, window.per_minute / window.slowdown),
                self._wait_for(stamps, now, hour, window.per_hour / window.slowdown),
            )
            if wait <= 0:
                stamps.append(now)
                return
            self.waited += wait
            self._sleep(wait)

    @staticmethod
    def _wait_for(stamps: collections.deque[float], now: float, span: float, limit: float) -> float:
        """Seconds until fewer than ``limit`` requests fall within the last ``span``."""
        allowed = max(1, int(limit))
        if len(stamps) < allowed:
            return 0.0
        # Only the `allowed`-th newest request matters: wait until it leaves the span.
        oldest_counted = stamps[len(stamps) - allowed]
        return max(0.0, oldest_counted + span - now)

    def throttled(self, endpoint_class: str) -> None:
        """Record a 429 for ``endpoint_class``: halve its pace (down to a tenth)."""
        window = self._windows[endpoint_class]
        window.slowdown = min(window.slowdown * 2, 10.0)

    def succeeded(self, endpoint_class: str) -> None:
        """Record a success: recover pace slowly after earlier 429s."""
        window = self._windows[endpoint_class]
        window.slowdown = max(1.0, window.slowdown * 0.97)
