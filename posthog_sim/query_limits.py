"""PostHog's query limits and failures, driven by what ClickHouse really read.

- Timeout: ClickHouse code 159 becomes ``ClickHouseQueryTimeOut`` (504, posthog/exceptions.py).
  The simulator has no 10-second clock, so a query that reads more than
  ``SimConfig.query_max_rows_read`` rows (ClickHouse's own ``rows_read``) stands for one that ran
  out of time; a narrower query then succeeds, as on PostHog. ``query_timeout_text`` picks the
  default detail or the newer rewrite (hogql_query_runner.py ``api_timeout_detail``).
- 512 ``ClickHouseEstimatedQueryExecutionTimeTooLong`` and 513
  ``ClickHouseQueryMemoryLimitExceeded`` (posthog/exceptions.py), from
  ``query_too_slow_rows_read`` / ``query_memory_rows_read``.
- The failure cache (posthog/query_cache/failures.py, flag ``query-failure-caching``): after
  3 timeouts (3 too-slow, 1 memory) of the same query the remembered failure is served without
  running it, for a backoff of 2 minutes doubling up to 30 minutes (4 hours for memory), on the
  simulator clock (``time_scale``).
- The free-tier read quota: once the project's queries have read more than
  ``query_read_quota_bytes`` bytes (ClickHouse ``bytes_read``), 402 ``APIQueriesQuotaExceeded``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clickhouse import ClickHouseError
from .config import SimConfig
from .render import ApiError

TIMEOUT_DETAIL = (
    "Query has hit the max execution time before completing. See our docs for how to improve "
    "your query performance. You may need to materialize."
)
TIME_LIMIT_DETAIL = (
    "This query hit the 10-second time limit for queries run through the API. "
    "Submit it as an async query to give it more time: "
    "https://posthog.com/docs/api/queries#asynchronous-queries. "
    "You can also narrow the date range or the filters so it scans less data: "
    "https://posthog.com/docs/api/queries#writing-performant-queries"
)
TOO_SLOW_DETAIL = (
    "Estimated query execution time is too long. Try reducing its scope by changing the time range."
)
MEMORY_DETAIL = (
    "This query ran out of memory before it could finish, usually because it's scanning too "
    "much data. Try a shorter date range or narrower filters, or see our docs for more ways to "
    "speed it up: https://posthog.com/docs/product-analytics/troubleshooting"
    "#how-do-i-speed-up-my-insights-and-queries"
)
QUOTA_DETAIL = (
    "Your organization has read more query data over the API than its free allowance for this "
    "month. API queries will be available again when the allowance resets. Upgrade your plan in "
    "Billing settings to restore access sooner, or ask an org admin to do so."
)
# posthog/query_cache/failures.py: failures before the breaker opens, and backoff ceilings.
THRESHOLDS = {"timeout": 3, "too_slow": 3, "memory_limit": 1}
BACKOFF_BASE_S = 120.0
BACKOFF_MAX_S = {"timeout": 1800.0, "too_slow": 1800.0, "memory_limit": 4 * 3600.0}


def timeout_error(text: str = "max_execution_time") -> ApiError:
    """504 ``ClickHouseQueryTimeOut`` with the default or the "time limit" detail."""
    detail = TIME_LIMIT_DETAIL if text == "time_limit" else TIMEOUT_DETAIL
    return ApiError(504, "server_error", "error", detail)


def too_slow_error() -> ApiError:
    """512 ``ClickHouseEstimatedQueryExecutionTimeTooLong``."""
    return ApiError(512, "server_error", "error", TOO_SLOW_DETAIL)


def memory_error(status: int = 513) -> ApiError:
    """``ClickHouseQueryMemoryLimitExceeded``: 513 now, 512 or 504 in older PostHog."""
    return ApiError(status, "server_error", "clickhouse_memory_limit_exceeded", MEMORY_DETAIL)


def quota_error() -> ApiError:
    """402 ``APIQueriesQuotaExceeded``."""
    return ApiError(402, "invalid_request", "api_queries_quota_exceeded", QUOTA_DETAIL)


@dataclass
class _Breaker:
    failures: int = 0
    opens: int = 0
    open_until: float = 0.0
    error: ApiError | None = None


class QueryLimits:
    """Per-simulator state of the limits above (thread-safe)."""

    def __init__(self, config: SimConfig, clock: Callable[[], float] = time.monotonic) -> None:
        """Read the limits from ``config``."""
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._breakers: dict[str, _Breaker] = {}
        self.bytes_read_total = 0

    def _failure_kind(self, error: ApiError) -> str:
        if error.status == 504:
            return "timeout"
        if error.code == "clickhouse_memory_limit_exceeded":
            return "memory_limit"
        return "too_slow"

    def before(self, cache_key: str) -> None:
        """Refuse before running: read quota spent, or an open failure breaker."""
        with self._lock:
            quota = self.config.query_read_quota_bytes
            if quota is not None and self.bytes_read_total > quota:
                raise quota_error()
            breaker = self._breakers.get(cache_key)
            if breaker and breaker.error is not None and self._clock() < breaker.open_until:
                served = breaker.error
                raise ApiError(served.status, served.type, served.code, served.detail)

    def after(self, result: Any, cache_key: str) -> None:
        """Account for a finished query; raise the error its reads stand for."""
        error = None
        rows = result.rows_read
        cfg = self.config
        if cfg.query_memory_rows_read is not None and rows > cfg.query_memory_rows_read:
            error = memory_error(cfg.query_memory_error_status)
        elif cfg.query_too_slow_rows_read is not None and rows > cfg.query_too_slow_rows_read:
            error = too_slow_error()
        elif cfg.query_max_rows_read is not None and rows > cfg.query_max_rows_read:
            error = timeout_error(cfg.query_timeout_text)
        with self._lock:
            self.bytes_read_total += result.bytes_read
        if error is None:
            with self._lock:
                self._breakers.pop(cache_key, None)
            return
        error.rows_read, error.bytes_read = result.rows_read, result.bytes_read
        self._fail(cache_key, error)
        raise error

    def clickhouse_error(self, exc: ClickHouseError, cache_key: str) -> None:
        """Map ClickHouse's own limit errors (159 timeout, 160 too slow, 241 memory)."""
        mapping = {
            159: lambda: timeout_error(self.config.query_timeout_text),
            160: too_slow_error,
            241: lambda: memory_error(self.config.query_memory_error_status),
        }
        make = mapping.get(exc.code or 0)
        if make is not None:
            error = make()
            self._fail(cache_key, error)
            raise error from exc

    def _fail(self, cache_key: str, error: ApiError) -> None:
        if not self.config.query_failure_cache:
            return
        kind = self._failure_kind(error)
        with self._lock:
            breaker = self._breakers.setdefault(cache_key, _Breaker())
            breaker.failures += 1
            if breaker.failures >= THRESHOLDS[kind]:
                backoff = min(BACKOFF_BASE_S * 2**breaker.opens, BACKOFF_MAX_S[kind])
                breaker.opens += 1
                breaker.failures = 0
                breaker.error = error
                breaker.open_until = self._clock() + backoff / self.config.time_scale
