"""PostHog's per-endpoint-class rate limits (DRF SimpleRateThrottle semantics), time-scalable."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

# class -> ((requests, window seconds), ...)
LIMITS: dict[str, tuple[tuple[int, int], ...]] = {
    "query": ((240, 60), (2400, 3600)),
    # HogQLQueryThrottle, rate "120/hour" (posthog/rate_limit.py)
    "query_legacy": ((120, 3600),),
    "clickhouse": ((240, 60), (1200, 3600)),
    "default": ((480, 60), (4800, 3600)),
}


class RateLimiter:
    """Sliding-window throttles per endpoint class on a clock sped up by ``time_scale``.

    The wait reported to clients is in the server's own simulated seconds (what PostHog would
    say), not divided by ``time_scale``.
    """

    def __init__(
        self, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Create empty histories; ``time_scale=60`` makes a minute last one real second."""
        self.time_scale = time_scale
        self._clock = clock
        self._origin = clock()
        self._lock = threading.Lock()
        self._history: dict[tuple[str, int], deque[float]] = {}

    def _now(self) -> float:
        return (self._clock() - self._origin) * self.time_scale

    def check(self, klass: str) -> int | None:
        """Record a request of ``klass``; return the wait in seconds if it must be throttled."""
        now = self._now()
        waits = []
        with self._lock:
            windows = LIMITS.get(klass, LIMITS["default"])
            for limit, duration in windows:
                history = self._history.setdefault((klass, duration), deque())
                while history and history[0] <= now - duration:
                    history.popleft()
                if len(history) >= limit:
                    remaining = duration - (now - history[0])
                    available = limit - len(history) + 1
                    waits.append(remaining / max(1, available))
            if waits:
                return max(1, math.ceil(max(waits)))
            for _, duration in windows:
                self._history[(klass, duration)].append(now)
        return None
