"""Session recordings (posthog/session_recordings/session_recording_api.py): generation, growth."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from .ids import uuid7_like
from .times import to_epoch_us

#: Recordings older than this are gone (the plan's retention floor on the listing query).
RETENTION_DAYS = 90


def _minimal_person(person: dict[str, Any]) -> dict[str, Any]:
    """``MinimalPersonSerializer``: id, name, distinct_ids, properties, created_at, uuid."""
    return {
        "id": person["id"],
        "name": person["name"],
        "distinct_ids": person["distinct_ids"][:10],
        "properties": person["properties"],
        "created_at": person["created_at"],
        "uuid": person["uuid"],
    }


def make_recordings(
    rng: random.Random, n: int, anchor: datetime, persons: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Recordings with ``SessionRecordingSerializer`` fields, start times over 100 days.

    About one in ten is older than :data:`RETENTION_DAYS` (never listed); a few are ongoing.
    """
    visible = [p for p in persons if not p["_hidden"]] or persons
    rows = []
    for i in range(n):
        if i % 10 == 0:
            start = anchor - timedelta(days=rng.uniform(RETENTION_DAYS + 1, 100))
        elif i % 4 == 0:
            start = anchor - timedelta(hours=rng.uniform(0.2, 60))  # inside the default -3d
        else:
            start = anchor - timedelta(days=rng.uniform(3, RETENTION_DAYS - 1))
        start = start.replace(microsecond=start.microsecond // 1000 * 1000)
        duration = rng.randrange(5, 3600)
        ongoing = i % 25 == 1
        person = rng.choice(visible)
        rows.append(
            {
                "id": uuid7_like(rng, to_epoch_us(start) // 1000),
                "distinct_id": person["distinct_ids"][0],
                "viewed": rng.random() < 0.3,
                "viewers": [],
                "recording_duration": duration,
                "active_seconds": duration // 2,
                "inactive_seconds": duration - duration // 2,
                "start_time": start,
                "end_time": start + timedelta(seconds=duration),
                "click_count": rng.randrange(0, 200),
                "keypress_count": rng.randrange(0, 300),
                "mouse_activity_count": rng.randrange(0, 900),
                "console_log_count": rng.randrange(0, 20),
                "console_warn_count": rng.randrange(0, 5),
                "console_error_count": rng.randrange(0, 3),
                "start_url": rng.choice(("https://example.com/", "https://example.com/pricing")),
                "person": _minimal_person(person),
                "storage": "object_storage",
                "snapshot_source": rng.choice(("web", "mobile")),
                "ongoing": ongoing,
                "activity_score": None,
            }
        )
    return rows


def grow(recording: dict[str, Any], seconds: int) -> None:
    """An ongoing recording gets longer: end_time, durations and counts move; start_time stays."""
    recording["end_time"] = recording["end_time"] + timedelta(seconds=seconds)
    recording["recording_duration"] = int(recording["recording_duration"]) + seconds
    recording["active_seconds"] = int(recording["active_seconds"]) + seconds
    recording["click_count"] = int(recording["click_count"]) + 1


def sort_recordings(rows: list[dict[str, Any]]) -> None:
    """Order ``start_time DESC``, ties by id (queries/session_recording_list_from_query.py)."""
    rows.sort(key=lambda r: (r["start_time"], r["id"]), reverse=True)
