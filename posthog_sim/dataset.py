"""Seeded dataset of one organization (two projects) plus a foreign project, and its mutations."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import catalog, product, removal
from .ch_tables import Tables
from .clickhouse import Database
from .config import SimConfig
from .groups import sort_groups
from .ids import derived_token, uuid4_like
from .person_mutations import PersonMutations
from .project_data import OTHER_ID_OFFSET, ProjectData, main_shape, other_shape
from .query import QueryService
from .recordings import grow, make_recordings, sort_recordings
from .times import to_epoch_us, to_utc, utc_now

# Event times far from the generated range (clock-skewed SDKs send them): ClickHouse's
# DateTime64 range starts in 1900; 1970-01-01 itself and the microsecond before it are included.
_EXTREME_STAMPS_US = (
    -2_208_988_800_000_000 + 500_000,  # 1900-01-01T00:00:00.5Z
    -299_592_000_000_000,  # 1960-07-04T12:00:00Z
    -1,  # 1969-12-31T23:59:59.999999Z
    0,  # 1970-01-01T00:00:00Z
    4_102_444_800_000_000,  # 2100-01-01T00:00:00Z
    7_258_118_399_999_999,  # 2199-12-31T23:59:59.999999Z
)


def _anchor(config: SimConfig) -> datetime:
    if config.anchor is not None:
        return to_utc(config.anchor)
    return utc_now().replace(microsecond=0)


class Dataset(PersonMutations):
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
        # An empty JSON object and false values (see edge.py): nothing may turn them into NULL.
        self.projects[self.other_project_id]["has_completed_onboarding_for"] = {}
        #: Hard-deleted rows per stream, kept so that ``restore_row`` can put them back.
        self.removed: dict[str, dict[Any, dict[str, Any]]] = {}
        self.users = catalog.make_users(random.Random(f"{seed}:users"))
        main = ProjectData(
            self.project_id,
            main_shape(config),
            seed=seed,
            label="",
            anchor=self.anchor,
            users=self.users,
            tz=config.main_project_timezone,
        )
        other = ProjectData(
            self.other_project_id,
            other_shape(config),
            seed=seed,
            label="other:",
            anchor=self.anchor,
            users=self.users,
            tz="UTC",
            id_offset=OTHER_ID_OFFSET,
        )
        #: Every project with tables, by id (the forbidden project has none).
        self.by_project = {main.project_id: main, other.project_id: other}
        # The main project's tables, under the names the mutations and older tests use.
        self.persons, self.flags, self.cohorts = main.persons, main.flags, main.cohorts
        self.event_definitions = main.event_definitions
        self.property_definitions = main.property_definitions
        self.dashboards, self.insights, self.actions = main.dashboards, main.insights, main.actions
        self.experiments, self.surveys = main.experiments, main.surveys
        self.group_types, self.groups = main.group_types, main.groups
        self.recordings, self.cohort_members = main.recordings, main.cohort_members
        self.events = main.events
        self.annotations = {
            self.project_id: catalog.make_annotations(
                random.Random(f"{seed}:annotations"), config.n_annotations, self.anchor,
                self.users, 1, 0.2,
            ),
            self.other_project_id: catalog.make_annotations(
                random.Random(f"{seed}:annotations:other"),
                max(5, config.n_annotations // 3),
                self.anchor,
                self.users,
                config.n_annotations + 1,
                0.4,
            ),
        }
        self._fill_clickhouse(config)

    def _fill_clickhouse(self, config: SimConfig) -> None:
        """One ClickHouse database for both projects (rows carry ``team_id``), as PostHog's."""
        self.clickhouse = Database()
        self.tables = Tables(self.clickhouse, self.project_id, config.events_index_granularity)
        #: HogQL per project (PostHog's printer adds ``team_id = N`` to every table).
        self.queries = {
            pid: QueryService(self.clickhouse, pid, self.projects[pid]["timezone"], config)
            for pid in self.by_project
        }
        import numpy as np

        for pid, project in self.by_project.items():
            self._write_persons(project.persons, team_id=pid)
            positions = list(project.initial_events)
            if config.extreme_event_times and pid == self.project_id:
                hi_us = to_epoch_us(self.anchor)
                positions += list(project.events.add_at(_EXTREME_STAMPS_US, hi_us - 1))
            order = project.events.ingestion_order(np.asarray(positions, dtype=np.int64))
            for rows in project.events.batches(order):
                self.tables.insert_events(rows, team_id=pid)

    def project(self, project_id: int) -> ProjectData | None:
        """The tables of ``project_id`` (None for a project without data)."""
        return self.by_project.get(project_id)

    def tz_of(self, project_id: int | None) -> ZoneInfo:
        """The timezone of ``project_id`` (the main project's when it has no tables)."""
        tables = self.by_project.get(project_id or self.project_id)
        return tables.tz if tables is not None else self.tz

    def _tables_of(self, project_id: int | None) -> ProjectData:
        return self.by_project[project_id or self.project_id]

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
        project_id: int | None = None,
    ) -> list[str]:
        """Insert ``n`` events with timestamps in ``[start, end)`` (or all at ``tie_timestamp``).

        Args:
            n: Number of events.
            start: Inclusive lower timestamp bound (not needed with ``tie_timestamp``).
            end: Exclusive upper timestamp bound (not needed with ``tie_timestamp``).
            created_at: Ingestion time; defaults to now.
            tie_timestamp: When given, every new event gets exactly this timestamp.
            project_id: The project (default: the main one).

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
            project = self._tables_of(project_id)
            inserted = to_epoch_us(utc_now())
            positions = project.events.add(n, lo, hi, to_epoch_us(created), inserted)
            rows = project.events.rows(positions)
            self.tables.insert_events(rows, team_id=project.project_id)
            return rows.uuid

    def grow_session(
        self, session_id: str, n: int, *, start: datetime, end: datetime,
        project_id: int | None = None,
    ) -> list[str]:  # fmt: skip
        """Add ``n`` events of an existing session, timestamps in ``[start, end)``, ingested now.

        The HogQL ``sessions`` row of the session then ends later and lasts longer (its start
        stays unless ``start`` is before it), and its ``max_inserted_at`` moves to now.
        """
        with self.lock:
            project = self._tables_of(project_id)
            now = to_epoch_us(utc_now())
            positions = project.events.add_in_session(
                session_id, n, to_epoch_us(start), to_epoch_us(end), now
            )
            rows = project.events.rows(positions)
            self.tables.insert_events(rows, team_id=project.project_id)
            return rows.uuid

    def hogql_sessions(self, project_id: int | None = None) -> list[dict[str, Any]]:
        """Rows of HogQL ``sessions`` of a project (every column, datetimes in UTC ISO text)."""
        pid = project_id or self.project_id
        with self.lock:
            result = self.clickhouse.query(
                f"SELECT * EXCEPT (team_id) FROM {self.clickhouse.name}.sessions "
                f"WHERE team_id = {int(pid)} ORDER BY session_id "
                "SETTINGS date_time_output_format = 'iso'"
            )
        return [dict(zip(result.names, row, strict=True)) for row in result.rows]

    def add_late_events(self, n: int, *, lateness: timedelta) -> list[str]:
        """Insert ``n`` events with timestamp ``now - lateness`` and created_at ``now``."""
        now = utc_now()
        when = now - lateness
        return self.add_events(n, created_at=now, tie_timestamp=when)

    def delete_row(self, stream: str, row_id: Any) -> None:
        """Delete one row of a whole-read stream as PostHog does (see ``removal.py``)."""
        with self.lock:
            removal.set_deleted(self, stream, row_id, True)

    def restore_row(self, stream: str, row_id: Any) -> None:
        """Undo :meth:`delete_row`: the same row is listed again."""
        with self.lock:
            removal.set_deleted(self, stream, row_id, False)

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

    def touch_insight(
        self, insight_id: int, name: str = "Renamed insight", *, project_id: int | None = None
    ) -> None:
        """Rename an insight now (moves ``last_modified_at``)."""
        with self.lock:
            rows = self._tables_of(project_id).insights
            product.touch_insight(self._find(rows, insight_id, "insight"), utc_now(), name)

    def set_insight_deleted(self, insight_id: int, deleted: bool = True) -> None:
        """Soft-delete (or restore) an insight."""
        with self.lock:
            self._find(self.insights, insight_id, "insight")["deleted"] = deleted

    def add_group(self, group_type_index: int, group_key: str, created_at: datetime) -> None:
        """Create a group (``created_at`` is kept to the millisecond, like ClickHouse)."""
        with self.lock:
            rows = self.groups[group_type_index]
            stamp = created_at.replace(microsecond=created_at.microsecond // 1000 * 1000)
            rows.append(
                {
                    "group_type_index": group_type_index,
                    "group_key": group_key,
                    "group_properties": {"name": group_key},
                    "created_at": stamp,
                }
            )
            sort_groups(rows)

    def grow_recording(
        self, recording_id: str, seconds: int = 120, *, project_id: int | None = None
    ) -> None:
        """An ongoing recording gets longer (start_time stays)."""
        with self.lock:
            rows = self._tables_of(project_id).recordings
            grow(self._find(rows, recording_id, "recording"), seconds)

    def add_recording(self, start: datetime) -> str:
        """Create a recording that started at ``start``; returns its id."""
        with self.lock:
            row = make_recordings(self._rng, 2, start, self.persons)[1]
            row["start_time"] = start
            row["end_time"] = start + timedelta(seconds=int(row["recording_duration"]))
            self.recordings.append(row)
            sort_recordings(self.recordings)
            return str(row["id"])

    def add_cohort_member(self, cohort_id: int, person_id: str) -> None:
        """Add a person to a cohort."""
        with self.lock:
            self.cohort_members[cohort_id].append(person_id)

    # ------------------------------------------------------------------ helpers
    def close(self) -> None:
        """Drop the simulator's ClickHouse database."""
        self.clickhouse.drop()
