"""Seeded dataset of one organization (two projects) plus a foreign project, and its mutations."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import catalog, shapes
from .config import SimConfig
from .events import EventStore
from .ids import derived_token, uuid4_like
from .people import change_properties, generate_persons, new_person, person_sort_key
from .times import to_epoch_us, to_utc, utc_now


def _anchor(config: SimConfig) -> datetime:
    if config.anchor is not None:
        return to_utc(config.anchor)
    return utc_now().replace(microsecond=0)


class Dataset:
    """Ground-truth state behind the API. Every public method takes ``lock``.

    Attributes:
        lock: Re-entrant lock shared with request handling.
        anchor: All generated times are before it.
        project_id / other_project_id / forbidden_project_id: The three projects.
        projects: Project records by id (``organization`` is the organization uuid).
    """

    def __init__(self, config: SimConfig) -> None:
        """Generate everything from ``config.seed``."""
        self.config = config
        self.lock = threading.RLock()
        self.anchor = _anchor(config)
        seed = config.seed
        self._rng = random.Random(f"{seed}:mutations")
        rng = random.Random(f"{seed}:base")
        self.project_id = 1000 + (seed * 7919) % 90_000
        self.other_project_id = self.project_id + 1
        self.forbidden_project_id = self.project_id + 2
        self.org_id = uuid4_like(rng)
        self.foreign_org_id = uuid4_like(rng)
        self.tz = ZoneInfo(config.main_project_timezone)
        self.projects = {
            self.project_id: self._project(
                rng, self.project_id, "Production (sim)", config.main_project_timezone, self.org_id
            ),
            self.other_project_id: self._project(
                rng, self.other_project_id, "Staging (sim)", "UTC", self.org_id
            ),
            self.forbidden_project_id: self._project(
                rng, self.forbidden_project_id, "Another org", "UTC", self.foreign_org_id
            ),
        }
        self.users = catalog.make_users(random.Random(f"{seed}:users"))
        self._generate_tables(config)
        self.events = EventStore(
            seed, [(p["id"], p["distinct_ids"][0]) for p in self.persons if not p["_hidden"]]
        )
        lo_us = to_epoch_us(self.anchor - timedelta(days=config.events_days))
        hi_us = to_epoch_us(self.anchor)
        span = hi_us - lo_us
        tie_rng = random.Random(f"{seed}:ties")
        ties = [
            (size, lo_us + tie_rng.randrange(span // 10, max(span // 10 + 1, span * 9 // 10)))
            for size, count in config.tie_groups
            for _ in range(count)
        ]
        if config.event_shape == "uniform":
            self.events.generate(config.n_events, lo_us, hi_us, ties)
        else:
            shaped = shapes.segments(config.event_shape, config.n_events, hi_us)
            for count, seg_lo, seg_hi in shaped:
                self.events.add(count, seg_lo, seg_hi, None)

    def _generate_tables(self, config: SimConfig) -> None:
        seed, anchor, users = config.seed, self.anchor, self.users

        def rng(label: str) -> random.Random:
            return random.Random(f"{seed}:{label}")

        self.persons = generate_persons(
            rng("persons"),
            config.n_persons,
            config.persons_hidden_ratio,
            config.persons_hidden_block,
            anchor,
            config.events_days,
        )
        self.flags = catalog.make_flags(rng("flags"), config.n_flags, anchor, users)
        self.cohorts = catalog.make_cohorts(rng("cohorts"), config.n_cohorts, anchor, users)
        self.event_definitions = catalog.make_event_definitions(
            rng("event_definitions"), config.n_event_definitions, anchor, users
        )
        self.property_definitions = {
            kind: catalog.make_property_definitions(rng(f"props:{kind}"), kind, n, anchor)
            for kind, n in (
                ("event", config.n_event_properties),
                ("person", config.n_person_properties),
                ("session", config.n_session_properties),
            )
        }
        self.annotations = {
            self.project_id: catalog.make_annotations(
                rng("annotations"), config.n_annotations, anchor, users, 1, 0.2
            ),
            self.other_project_id: catalog.make_annotations(
                rng("annotations:other"),
                max(5, config.n_annotations // 3),
                anchor,
                users,
                config.n_annotations + 1,
                0.4,
            ),
        }

    @staticmethod
    def _project(rng: random.Random, pid: int, name: str, tz: str, org: str) -> dict[str, Any]:
        return {
            "id": pid,
            "uuid": uuid4_like(rng),
            "organization": org,
            "api_token": "phc_" + derived_token(pid, "api_token", 43),
            "name": name,
            "completed_snippet_onboarding": True,
            "has_completed_onboarding_for": {"product_analytics": True},
            "ingested_event": True,
            "is_demo": False,
            "timezone": tz,
            "access_control": False,
            "secret_api_token": "phs_" + derived_token(pid, "secret", 43),
            "secret_api_token_backup": None,
        }

    # ------------------------------------------------------------------ mutations
    def add_events(
        self,
        n: int,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        created_at: datetime | None = None,
        tie_timestamp: datetime | None = None,
    ) -> list[str]:
        """Insert ``n`` events with timestamps in ``[start, end)`` (or all at ``tie_timestamp``).

        Args:
            n: Number of events.
            start: Inclusive lower timestamp bound (not needed with ``tie_timestamp``).
            end: Exclusive upper timestamp bound (not needed with ``tie_timestamp``).
            created_at: Ingestion time; defaults to now.
            tie_timestamp: When given, every new event gets exactly this timestamp.

        Returns:
            The new event uuids.
        """
        created = created_at or utc_now()
        if tie_timestamp is not None:
            lo = to_epoch_us(tie_timestamp)
            hi = lo + 1
        elif start is None or end is None:
            raise ValueError("give start and end, or tie_timestamp")
        else:
            lo, hi = to_epoch_us(start), to_epoch_us(end)
            if hi <= lo:
                raise ValueError("end must be after start")
        with self.lock:
            return self.events.add(n, lo, hi, to_epoch_us(created))

    def add_late_events(self, n: int, *, lateness: timedelta) -> list[str]:
        """Insert ``n`` events with timestamp ``now - lateness`` and created_at ``now``."""
        now = utc_now()
        when = now - lateness
        return self.add_events(n, created_at=now, tie_timestamp=when)

    def add_persons(self, n: int) -> list[str]:
        """Create ``n`` persons now (they sort first and shift every later page)."""
        with self.lock:
            fresh = [new_person(self._rng, utc_now()) for _ in range(n)]
            self.persons.extend(fresh)
            self.persons.sort(key=person_sort_key, reverse=True)
            return [p["id"] for p in fresh]

    def update_person_properties(self, person_id: str) -> None:
        """Change a person's properties; last_seen_at stays (PostHog refreshes it hourly)."""
        with self.lock:
            change_properties(self._rng, self._find(self.persons, person_id, "person"))

    def delete_person(self, person_id: str) -> None:
        """Delete a person: the row stays as a hidden offset slot, like a deleted/merged person."""
        with self.lock:
            self._find(self.persons, person_id, "person")["_hidden"] = True

    def touch_feature_flag(self, flag_id: int) -> None:
        """Change a flag's filters and bump its updated_at and version."""
        with self.lock:
            catalog.touch_flag(self._rng, self._find(self.flags, flag_id, "flag"), utc_now())

    def set_feature_flag_state(
        self, flag_id: int, *, archived: bool | None = None, deleted: bool | None = None
    ) -> None:
        """Archive/unarchive or (soft-)delete a flag; bumps updated_at."""
        with self.lock:
            flag = self._find(self.flags, flag_id, "flag")
            if archived is not None:
                flag["archived"] = archived
            if deleted is not None:
                flag["deleted"] = deleted
            flag["status"] = (
                "deleted" if flag["deleted"] else "archived" if flag["archived"] else "active"
            )
            flag["updated_at"] = utc_now()

    def add_annotation(
        self,
        content: str = "Added annotation",
        *,
        scope: str = "project",
        project_id: int | None = None,
        date_marker: datetime | None = None,
    ) -> int:
        """Create an annotation (``scope="organization"`` shows in every project of the org)."""
        with self.lock:
            pid = project_id or self.project_id
            now = utc_now()
            new_id = 1 + max(a["id"] for rows in self.annotations.values() for a in rows)
            row = catalog.make_annotations(self._rng, 1, now, self.users, new_id, 0.0)[0]
            row.update(
                content=content,
                scope=scope,
                created_at=now,
                updated_at=now,
                deleted=False,
                date_marker=date_marker or now,
                dashboard_item=None,
                insight_short_id=None,
            )
            self.annotations[pid].append(row)
            return new_id

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _find(rows: list[dict[str, Any]], row_id: Any, what: str) -> dict[str, Any]:
        for row in rows:
            if row["id"] == row_id:
                return row
        raise KeyError(f"no {what} with id {row_id!r}")

    def close(self) -> None:
        """Release the DuckDB connection."""
        self.events.close()
