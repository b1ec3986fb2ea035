"""PostHog's rate limits (DRF SimpleRateThrottle semantics), time-scalable.

Rates and which throttles each endpoint uses, from PostHog/posthog:
- posthog/rate_limit.py: ``BurstRateThrottle`` 480/minute, ``SustainedRateThrottle`` 4800/hour
  (default for every DRF view), ``ClickHouseBurstRateThrottle`` 240/minute,
  ``ClickHouseSustainedRateThrottle`` 1200/hour, ``APIQueriesBurstThrottle`` 240/minute,
  ``APIQueriesSustainedThrottle`` 2400/hour, ``HogQLQueryThrottle`` 120/hour (teams not
  migrated to the API-queries limits). These apply only with ``RATE_LIMIT_ENABLED``.
- posthog/api/person.py: the persons viewset sets ``throttle_classes =
  [ClickHouseBurstRateThrottle, PersonsBreakGlassBurstThrottle,
  PersonsBreakGlassSustainedThrottle]``; the break-glass pair (180/minute, 1200/hour) is keyed
  per user and does not depend on ``RATE_LIMIT_ENABLED``.
- posthog/api/query.py ``QueryViewSet.get_throttles``: the API-queries pair, or
  ``HogQLQueryThrottle`` for a HogQLQuery on a legacy team.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

#: Throttle scope -> (requests, window seconds).
RATES: dict[str, tuple[int, int]] = {
    "burst": (480, 60),
    "sustained": (4800, 3600),
    "clickhouse_burst": (240, 60),
    "clickhouse_sustained": (1200, 3600),
    "api_queries_burst": (240, 60),
    "api_queries_sustained": (2400, 3600),
    "query": (120, 3600),  # HogQLQueryThrottle, legacy teams
    "persons_breakglass_burst": (180, 60),  # per user, always on
    "persons_breakglass_sustained": (1200, 3600),  # per user, always on
}

#: Endpoint throttle class -> the scopes it checks when ``RATE_LIMIT_ENABLED`` is on.
LIMITED: dict[str, tuple[str, ...]] = {
    "default": ("burst", "sustained"),
    "clickhouse": ("clickhouse_burst", "clickhouse_sustained"),
    "query": ("api_queries_burst", "api_queries_sustained"),
    "persons": ("clickhouse_burst",),
}
#: Scopes checked whatever ``RATE_LIMIT_ENABLED`` says.
ALWAYS: dict[str, tuple[str, ...]] = {
    "persons": ("persons_breakglass_burst", "persons_breakglass_sustained"),
}
#: Throttle scopes of a legacy team's query endpoint (``HogQLQueryThrottle`` replaces the pair).
LEGACY_QUERY: tuple[str, ...] = ("query",)


class RateLimiter:
    """Sliding-window throttles per scope on a clock sped up by ``time_scale``.

    ``enabled`` mirrors PostHog's ``RATE_LIMIT_ENABLED`` (the per-key throttles);
    ``persons_user_limits`` the always-on per-user persons throttles; ``legacy_query`` a team on
    the 120/hour HogQL limit. The wait reported to clients is in the server's own simulated
    seconds (what PostHog would say), not divided by ``time_scale``.
    """

    def __init__(
        self,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        enabled: bool = True,
        persons_user_limits: bool = True,
        legacy_query: bool = False,
    ) -> None:
        """Create empty histories; ``time_scale=60`` makes a minute last one real second."""
        self.time_scale = time_scale
        self._clock = clock
        self._origin = clock()
        self._lock = threading.Lock()
        self._history: dict[str, deque[float]] = {}
        self._enabled = enabled
        self._persons_user = persons_user_limits
        self._legacy_query = legacy_query

    def scopes(self, klass: str) -> tuple[str, ...]:
        """The throttle scopes a request of endpoint class ``klass`` is checked against."""
        scopes: tuple[str, ...] = ()
        if klass == "query" and self._legacy_query:
            scopes = LEGACY_QUERY
        elif self._enabled:
            scopes = LIMITED.get(klass, LIMITED["default"])
        if self._persons_user:
            scopes += ALWAYS.get(klass, ())
        return scopes

    def _now(self) -> float:
        return (self._clock() - self._origin) * self.time_scale

    def check(self, klass: str) -> int | None:
        """Record a request of ``klass``; return the wait in seconds if it must be throttled.

        Like DRF's ``SimpleRateThrottle``, a throttled request is not recorded.
        """
        now = self._now()
        waits = []
        scopes = self.scopes(klass)
        with self._lock:
            for scope in scopes:
                limit, duration = RATES[scope]
                history = self._history.setdefault(scope, deque())
                while history and history[0] <= now - duration:
                    history.popleft()
                if len(history) >= limit:
                    remaining = duration - (now - history[0])
                    available = limit - len(history) + 1
                    waits.append(remaining / max(1, available))
            if waits:
                return max(1, math.ceil(max(waits)))
            for scope in scopes:
                self._history[scope].append(now)
        return None
