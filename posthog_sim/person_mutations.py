"""Person mutations and the ground truth of HogQL ``persons`` and ``person_distinct_ids``.

A part of :class:`posthog_sim.dataset.Dataset`: REST rows, ClickHouse versions and the events'
person-property snapshots change together.
"""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING, Any

from .people import change_properties, new_person, person_sort_key
from .times import utc_now

if TYPE_CHECKING:
    from .ch_tables import Tables
    from .events import EventStore
    from .project_data import ProjectData


class PersonMutations:
    """The person methods of :class:`posthog_sim.dataset.Dataset` (it provides the state)."""

    lock: threading.RLock
    _rng: random.Random
    persons: list[dict[str, Any]]
    tables: Tables
    events: EventStore
    by_project: dict[int, ProjectData]
    project_id: int

    @staticmethod
    def _find(rows: list[dict[str, Any]], row_id: Any, what: str) -> dict[str, Any]:
        for row in rows:
            if row["id"] == row_id:
                return row
        raise KeyError(f"no {what} with id {row_id!r}")

    def add_persons(self, n: int) -> list[str]:
        """Create ``n`` persons now (they sort first and shift every later page)."""
        with self.lock:
            fresh = [new_person(self._rng, utc_now()) for _ in range(n)]
            self.persons.extend(fresh)
            self._write_persons(fresh)
            self.persons.sort(key=person_sort_key, reverse=True)
            return [p["id"] for p in fresh]

    def update_person_properties(self, person_id: str) -> None:
        """Change a person's properties; last_seen_at stays (PostHog refreshes it hourly)."""
        with self.lock:
            person = self._find(self.persons, person_id, "person")
            change_properties(self._rng, person)
            person["_version"] = person.get("_version", 0) + 1
            self.tables.write_persons([person])
            self.events.set_person_properties(person_id, person["properties"])

    def delete_person(self, person_id: str) -> None:
        """Delete a person: the REST row stays as a hidden offset slot, like a deleted/merged one.

        In ClickHouse, as PostHog's ``delete_person`` writes it (posthog/models/person/util.py),
        the person gets a row with ``is_deleted = 1`` at ``version + 100``, and so does each of
        its distinct ids: the person leaves HogQL ``persons`` and ``person_distinct_ids``.
        """
        with self.lock:
            person = self._find(self.persons, person_id, "person")
            person["_hidden"] = True
            self._delete_in_clickhouse(person)

    def merge_persons(self, keep_id: str, gone_id: str) -> None:
        """Merge person ``gone_id`` into ``keep_id``, as PostHog's merge does.

        The kept person takes over every distinct id of the other (a new
        ``person_distinct_id2`` row at ``version + 1`` for each) and the other's properties it
        lacks; the merged-away person is deleted in ClickHouse (``version + 100``) and becomes a
        hidden REST row. Events keep the ``person_id`` they were ingested with.
        """
        with self.lock:
            keep = self._find(self.persons, keep_id, "person")
            gone = self._find(self.persons, gone_id, "person")
            if keep is gone:
                raise ValueError("cannot merge a person into itself")
            moved = list(gone["distinct_ids"])
            keep["distinct_ids"] = list(keep["distinct_ids"]) + moved
            keep["properties"] = {**gone["properties"], **keep["properties"]}
            keep["_version"] = keep.get("_version", 0) + 1
            versions = gone.setdefault("_pdi_versions", {})
            rows = []
            for distinct_id in moved:
                versions[distinct_id] = versions.get(distinct_id, 0) + 1
                keep.setdefault("_pdi_versions", {})[distinct_id] = versions[distinct_id]
                rows.append((distinct_id, keep_id, versions[distinct_id]))
            gone["distinct_ids"] = []
            gone["_hidden"] = True
            gone["_deleted"] = True
            gone["_version"] = gone.get("_version", 0) + 100
            self.tables.write_persons([keep])
            self.events.set_person_properties(keep_id, keep["properties"])
            self.tables.write_distinct_ids(rows)
            self.tables.write_persons([gone], deleted=True)

    def _write_persons(self, persons: list[dict[str, Any]], team_id: int | None = None) -> None:
        for person in persons:
            person.setdefault("_version", 0)
        self.tables.write_persons(persons, team_id=team_id)
        self.tables.write_distinct_ids(
            (
                (d, p["id"], p.get("_pdi_versions", {}).get(d, 0))
                for p in persons
                for d in p["distinct_ids"]
            ),
            team_id=team_id,
        )

    def write_distinct_id(
        self, person: dict[str, Any], distinct_id: str, *, deleted: bool
    ) -> None:
        """A newer ``person_distinct_id2`` row for one of ``person``'s ids (lock held)."""
        versions = person.setdefault("_pdi_versions", {})
        versions[distinct_id] = versions.get(distinct_id, 0) + 100
        self.tables.write_distinct_ids(
            [(distinct_id, person["id"], versions[distinct_id])], deleted=deleted
        )

    def _restore_in_clickhouse(self, person: dict[str, Any]) -> None:
        """Undo :meth:`_delete_in_clickhouse`: newer live rows for the person and its ids."""
        if not person.get("_deleted"):
            return
        person["_deleted"] = False
        person["_version"] = person.get("_version", 0) + 100
        self.tables.write_persons([person])
        self.tables.write_distinct_ids(_newer_distinct_id_rows(person))

    def _delete_in_clickhouse(self, person: dict[str, Any]) -> None:
        if person.get("_deleted"):
            return
        person["_deleted"] = True
        person["_version"] = person.get("_version", 0) + 100
        self.tables.write_persons([person], deleted=True)
        self.tables.write_distinct_ids(_newer_distinct_id_rows(person), deleted=True)

    # ------------------------------------------------------------------ HogQL-table truth
    def _persons_of(self, project_id: int | None) -> list[dict[str, Any]]:
        project = self.by_project.get(project_id or self.project_id)
        return project.persons if project is not None else []

    def hogql_persons(self, project_id: int | None = None) -> list[dict[str, Any]]:
        """Rows of HogQL ``persons`` (from the dataset, not ClickHouse), ordered by id.

        Every person ClickHouse has and has not deleted: visible persons and the ghosts behind
        hidden REST rows, but not deleted or merged-away persons (default: the main project).
        """
        with self.lock:
            rows = [p for p in self._persons_of(project_id) if not p.get("_deleted")]
            return sorted(rows, key=lambda p: p["id"])

    def hogql_person_distinct_ids(self, project_id: int | None = None) -> list[tuple[str, str]]:
        """Rows of HogQL ``person_distinct_ids``: ``(distinct_id, person_id)``, by distinct id."""
        with self.lock:
            pairs = [
                (d, p["id"])
                for p in self._persons_of(project_id)
                if not p.get("_deleted")
                for d in p["distinct_ids"]
            ]
            return sorted(pairs)


def _newer_distinct_id_rows(person: dict[str, Any]) -> list[tuple[str, str, int]]:
    """``(distinct_id, person_id, version)`` rows 100 versions above each of the person's ids."""
    versions = person.setdefault("_pdi_versions", {})
    rows = []
    for distinct_id in person["distinct_ids"]:
        versions[distinct_id] = versions.get(distinct_id, 0) + 100
        rows.append((distinct_id, person["id"], versions[distinct_id]))
    return rows
