"""Simulator configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

FAULT_PROFILES = ("none", "light", "heavy")


@dataclass(frozen=True)
class SimConfig:
    """Everything that shapes a simulator instance; equal configs give equal data.

    Attributes:
        seed: Seed for every generated value (ids, keys, timestamps).
        port: TCP port on 127.0.0.1; 0 picks an ephemeral port.
        n_events: Events generated in the main project (tie groups included).
        n_persons: Visible persons (hidden rows come on top, see persons_hidden_ratio).
        n_flags: Feature flags, including archived and deleted ones.
        n_cohorts: Cohorts, including deleted ones.
        n_event_definitions: Event definitions.
        n_event_properties: Event property definitions.
        n_person_properties: Person property definitions (virtual builtins come on top).
        n_session_properties: Session property definitions.
        n_annotations: Annotations of the main project (including deleted and org-scoped).
        n_insights: Insights (including soft-deleted ones).
        n_dashboards: Dashboards (including deleted and unlisted ones).
        n_actions: Actions (including deleted ones).
        n_experiments: Experiments (including archived and deleted ones).
        n_surveys: Surveys (including product-tour internal ones the list hides).
        n_groups: Groups of the first group type (the second gets 40 %, the third none).
        n_recordings: Session recordings (one in ten older than the retention floor).
        events_days: Generated event timestamps span this many days before the anchor.
        tie_groups: ``(size, count)`` pairs: ``count`` groups of ``size`` events sharing one
            timestamp each.
        anchor: Upper bound of generated times; None means now floored to the second (UTC).
        main_project_timezone: Project timezone; HogQL renders datetimes in it.
        fault_profile: "none", "light" or "heavy" random faults.
        fault_seed: Seed for the fault profile RNG (defaults to ``seed``).
        persons_hidden_ratio: Deleted/merged person rows per visible person; they take offset
            slots without being rendered, so persons pages come back short.
        persons_hidden_block: Size of one contiguous run of hidden person rows starting at this
            offset, so one page of this size is entirely hidden (0 disables).
        rate_limits: Enforce PostHog's per-endpoint-class rate limits.
        time_scale: Rate-limit clock speed-up (60 means a minute lasts one second); also
            scales the query failure cache's backoff.
        query_row_cap: Most rows a HogQL query returns; a larger LIMIT is silently lowered
            (50,000 on PostHog Cloud, 10,000 on older and self-hosted PostHog).
        query_max_rows_read: A query whose ClickHouse ``rows_read`` exceeds this fails with the
            504 timeout (None = unlimited).
        query_timeout_text: "max_execution_time" (PostHog's default 504 detail) or "time_limit"
            (the newer "10-second time limit" rewrite).
        query_too_slow_rows_read: Above this many rows read, 512 "Estimated query execution
            time is too long" (None = never).
        query_memory_rows_read: Above this many rows read, the memory-limit error (None = never).
        query_memory_error_status: Status of the memory-limit error: 513 (newest PostHog), 512 or
            504 (older).
        query_failure_cache: PostHog's query failure cache (flag ``query-failure-caching``):
            after 3 timeouts of one query its failure is served again for a while.
        query_read_quota_bytes: Free-tier API read allowance in ClickHouse bytes read; past it
            queries get 402 ``api_queries_quota_exceeded`` (None = unlimited).
        legacy_query_rate_limit: The team is on the legacy HogQL throttle (120 queries/hour)
            instead of 240/minute and 2,400/hour (needs ``rate_limits``).
        extreme_event_times: Add events at and before 1970-01-01 and years in the future.
        events_index_granularity: ``index_granularity`` of the ClickHouse events table (PostHog
            uses ClickHouse's 8192; smaller values make row-read limits finer on small data).
    """

    seed: int = 1
    port: int = 0
    n_events: int = 2000
    n_persons: int = 250
    n_flags: int = 40
    n_cohorts: int = 12
    n_event_definitions: int = 60
    n_event_properties: int = 150
    n_person_properties: int = 40
    n_session_properties: int = 20
    n_annotations: int = 30
    n_insights: int = 45
    n_dashboards: int = 14
    n_actions: int = 25
    n_experiments: int = 18
    n_surveys: int = 16
    n_groups: int = 230
    n_recordings: int = 140
    events_days: int = 30
    tie_groups: tuple[tuple[int, int], ...] = ((1500, 1),)
    anchor: datetime | None = None
    main_project_timezone: str = "America/Los_Angeles"
    fault_profile: str = "none"
    fault_seed: int | None = None
    persons_hidden_ratio: float = 0.1
    persons_hidden_block: int = 100
    rate_limits: bool = False
    time_scale: float = 1.0
    query_row_cap: int = 50_000
    query_max_rows_read: int | None = None
    query_timeout_text: str = "max_execution_time"
    query_too_slow_rows_read: int | None = None
    query_memory_rows_read: int | None = None
    query_memory_error_status: int = 513
    query_failure_cache: bool = False
    query_read_quota_bytes: int | None = None
    legacy_query_rate_limit: bool = False
    extreme_event_times: bool = False
    events_index_granularity: int = 8192

    def __post_init__(self) -> None:
        """Validate the few fields that can be wrong in a way that matters."""
        if self.fault_profile not in FAULT_PROFILES:
            raise ValueError(f"fault_profile must be one of {FAULT_PROFILES}")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if min(self.n_events, self.n_persons) < 0:
            raise ValueError("counts must not be negative")
        if self.query_timeout_text not in ("max_execution_time", "time_limit"):
            raise ValueError('query_timeout_text must be "max_execution_time" or "time_limit"')
        if self.query_memory_error_status not in (504, 512, 513):
            raise ValueError("query_memory_error_status must be 504, 512 or 513")
        if self.query_row_cap < 1 or self.events_index_granularity < 1:
            raise ValueError("query_row_cap and events_index_granularity must be positive")
        if self.events_days < 1:
            raise ValueError("events_days must be at least 1")
