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
        rate_limits: Enforce PostHog's per-key rate limits (its ``RATE_LIMIT_ENABLED``).
        persons_user_rate_limits: Enforce the persons list's per-user break-glass throttles
            (180/minute, 1200/hour), which PostHog applies whatever ``RATE_LIMIT_ENABLED`` says.
        legacy_query_rate_limit: The team is on the legacy HogQL limit of 120 queries/hour
            (``HogQLQueryThrottle``) instead of 240/minute and 2400/hour.
        time_scale: Rate-limit clock speed-up (60 means a minute lasts one second).
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
    events_days: int = 30
    tie_groups: tuple[tuple[int, int], ...] = ((1500, 1),)
    anchor: datetime | None = None
    main_project_timezone: str = "America/Los_Angeles"
    fault_profile: str = "none"
    fault_seed: int | None = None
    persons_hidden_ratio: float = 0.1
    persons_hidden_block: int = 100
    rate_limits: bool = False
    persons_user_rate_limits: bool = True
    legacy_query_rate_limit: bool = False
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        """Validate the few fields that can be wrong in a way that matters."""
        if self.fault_profile not in FAULT_PROFILES:
            raise ValueError(f"fault_profile must be one of {FAULT_PROFILES}")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if min(self.n_events, self.n_persons) < 0:
            raise ValueError("counts must not be negative")
        if self.events_days < 1:
            raise ValueError("events_days must be at least 1")
