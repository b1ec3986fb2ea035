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

#: PostHog's limits per endpoint class: (per minute, per hour) (posthog/rate_limit.py).
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    # POST /query/ (HogQL) on teams on the API-queries limits: 240/minute, 2400/hour.
    "query": (240, 2400),
    # persons: the per-user break-glass throttles 180/minute, 1200/hour (posthog/api/person.py)
    # bind before ClickHouse's 240/minute; sessions use ClickHouse's 240/minute, 1200/hour.
    "analytics": (180, 1200),
    # everything else: 480/minute, 4800/hour.
    "crud": (480, 4800),
}
#: Legacy teams' HogQL limit (``HogQLQueryThrottle``): 120 queries an hour, no minute limit.
LEGACY_QUERY_PER_HOUR = 120


def stated_wait(response: requests.Response) -> float | None:
    """Return the wait a 429/503 response asks for, in seconds, if it states one.

    PostHog's 429 states it twice: in the body ("Request was throttled. Expected available in
    N seconds.", DRF's ``Throttled``) and, since drf-exceptions-hog 0.4.0 (which PostHog pins),
    in ``Retry-After``. A 503 (database or ClickHouse at capacity) and proxies send only
    ``Retry-After``, in seconds or as an HTTP date. The body wins when both are present.
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
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


@dataclass
class RetryPolicy:
    """How many attempts a request gets, and how long to wait between them.

    Every failure counts against ``max_attempts``: 429, 5xx, and transport failures alike
    (refused or reset connections, connect and read timeouts, bodies cut short). Between
    attempts the wait is the one the server states (429, 503; capped at ``max_stated_wait``)
    or exponential backoff from ``backoff_base`` up to ``backoff_max``; transport failures back
    off at most ``transport_backoff_max``. So a server that accepts connections and never
    answers fails after at most ``max_attempts x (connect + read timeout)`` plus
    :meth:`worst_transport_waits`.
    """

    max_attempts: int = 8
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_stated_wait: float = 3600.0
    transport_backoff_max: float = 8.0

    def server_wait(self, attempt: int, response: requests.Response) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based) got a 429/5xx."""
        wait = stated_wait(response)
        if wait is not None:
            return min(wait, self.max_stated_wait)
        return self.backoff(attempt)

    def transport_wait(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` never got a response."""
        return min(self.backoff(attempt), self.transport_backoff_max)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff: ``backoff_base x 2^(attempt-1)``, at most ``backoff_max``."""
        return min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))

    def worst_transport_waits(self) -> float:
        """Total wait between the attempts of a request whose every attempt times out."""
        return sum(self.transport_wait(n) for n in range(1, self.max_attempts))


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
        self._limits = dict(limits or DEFAULT_LIMITS)
        self._share = share
        self._windows = {
            name: _Window(per_minute * share, per_hour * share)
            for name, (per_minute, per_hour) in self._limits.items()
        }
        self.waited = 0.0

    def describe(self, endpoint_class: str) -> str:
        """The class's pace in words, e.g. ``144/min, 960/h (80 % of 180/min, 1200/h)``."""
        window = self._windows[endpoint_class]
        minute, hour = self._limits[endpoint_class]
        slow = window.slowdown
        pace = f"{window.per_minute / slow:.4g}/min, {window.per_hour / slow:.4g}/h"
        return f"{pace} ({self._share * 100:g} % of {minute:g}/min, {hour:g}/h)"

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
