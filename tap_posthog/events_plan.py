"""What an events run reads, and what its completion leaves in the state.

A run reads ``[lo, read_hi)``. ``hi`` is the run's start (or ``end_date``): the next run's
lookback counts back from it. ``read_hi`` is ``end_date`` when set, else the end of
ClickHouse's ``DateTime64`` range, so events stamped in the future by skewed clocks land too
(they are read again by each run until their time has passed; destinations de-duplicate on
``id``).

Incremental runs and late events: after a completed run the state holds ``window_end`` (the
run's ``hi``) and ``ingested_watermark`` (ingestion time up to which the range was read). The
next run reads from ``window_end - lookback``; in the part already read it asks only for
events ingested since the watermark (``created_at``), so a rerun costs what is new, and an
event that arrives up to ``lookback`` late still lands. Events ingested shortly before the
watermark are read again (margin for ingestion lag).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tap_posthog.events_windows import CEILING, FLOOR
from tap_posthog.timeutil import parse_datetime, to_utc_string

if TYPE_CHECKING:
    from collections.abc import Mapping

INGESTION_MARGIN = timedelta(minutes=15)


@dataclass
class RunPlan:
    """One run's range and keyset cursor; stored in the state as ``run`` while it reads."""

    lo: str
    hi: str
    started_at: str
    read_hi: str | None = None
    fresh_from: str | None = None
    ingested_from: str | None = None
    after_ts: str | None = None
    after_uuid: str | None = None

    @classmethod
    def from_state(cls, run: Mapping[str, Any]) -> RunPlan:
        """The plan of an interrupted run (state written by this or an earlier version)."""
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in run.items() if k in fields})

    def to_state(self) -> dict[str, Any]:
        """The plan as stored in the state."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @property
    def after(self) -> tuple[str, str] | None:
        """The keyset cursor, if the run has emitted records."""
        if self.after_ts is None or self.after_uuid is None:
            return None
        return self.after_ts, self.after_uuid

    @property
    def read_until(self) -> datetime:
        """Upper bound of what the run reads (exclusive)."""
        return parse_datetime(self.read_hi or self.hi)


def plan_run(state: Mapping[str, Any], config: Mapping[str, Any], now: datetime) -> RunPlan | None:
    """The run to do: the interrupted one in ``state``, else a new one; None when nothing.

    A first sync without ``start_date`` starts at the beginning of ClickHouse's date range:
    its first query, over the whole range, returns the first page of events (see
    ``events_windows``), so no separate search for the first event is needed.
    """
    if state.get("run"):
        return RunPlan.from_state(state["run"])
    end_date = config.get("end_date")
    read_hi = parse_datetime(end_date) if end_date else CEILING
    hi = min(read_hi, now)
    start_date = config.get("start_date")
    plan = RunPlan(
        lo="", hi=to_utc_string(hi), started_at=to_utc_string(now), read_hi=to_utc_string(read_hi)
    )
    if state.get("window_end"):
        window_end = parse_datetime(state["window_end"])
        lo = window_end - timedelta(hours=float(config["events_lookback_hours"]))
        if start_date:
            lo = max(lo, parse_datetime(start_date))
        plan.fresh_from = to_utc_string(window_end)
        if state.get("ingested_watermark"):
            ingested = parse_datetime(state["ingested_watermark"]) - INGESTION_MARGIN
            plan.ingested_from = to_utc_string(ingested)
    elif start_date:
        lo = parse_datetime(start_date)
    else:
        lo = FLOOR
    if lo >= read_hi:
        return None
    plan.lo = to_utc_string(lo)
    return plan


def finish_run(
    state: dict[str, Any],
    plan: RunPlan | None,
    previous_bookmark: str | None,
    max_ingested: str | None,
    replication_key: str,
) -> None:
    """Mark the run complete: move window end and watermark, keep the highest bookmark."""
    value = state.get("replication_key_value") if plan and plan.after_ts else None
    bookmarks = [v for v in (previous_bookmark, value) if v]
    if bookmarks:
        state["replication_key"] = replication_key
        state["replication_key_value"] = max(bookmarks)
    if plan is None:
        return
    state.pop("run", None)
    state["window_end"] = plan.hi
    candidates = [state.get("ingested_watermark")]
    if max_ingested:
        candidates.append(min(max_ingested, plan.started_at))
    known = [c for c in candidates if c]
    if known:
        state["ingested_watermark"] = max(known)
