"""Ground truth: what a correct full sync of each stream must produce."""

from __future__ import annotations

from typing import Any

from .dataset import Dataset
from .person_records import distinct_id_records, person_records
from .render import public
from .views import (
    annotation_rows,
    cohort_rows,
    event_definition_rows,
    flag_rows,
    org_projects,
    person_rows,
    property_definition_rows,
)

STREAMS = (
    "projects",
    "persons",
    "person_distinct_ids",
    "feature_flags",
    "events",
    "cohorts",
    "event_definitions",
    "event_property_definitions",
    "person_property_definitions",
    "session_property_definitions",
    "annotations",
)


class Truth:
    """Expected records per stream, computed from the live dataset (mutations included)."""

    def __init__(self, data: Dataset) -> None:
        """Wrap the dataset."""
        self._data = data

    def records(self, name: str, project_id: int | None = None) -> list[dict[str, Any]]:
        """Records as the list endpoint renders them (events: as the tap should emit them).

        Args:
            name: One of :data:`STREAMS`.
            project_id: Project to compute for; defaults to the main project.
        """
        data = self._data
        pid = project_id or data.project_id
        with data.lock:
            if name == "events":
                return data.events.records() if pid == data.project_id else []
            if name == "projects":
                return [public(p) for p in org_projects(data, None)]
            if name == "persons":
                rows = data.hogql_persons() if pid == data.project_id else []
                return person_records(rows, pid)
            if name == "person_distinct_ids":
                pairs = data.hogql_person_distinct_ids() if pid == data.project_id else []
                return distinct_id_records(pairs, pid)
            if name == "feature_flags":
                rows = flag_rows(data, pid, "false") + flag_rows(data, pid, "true")
                return [public(f) for f in sorted(rows, key=lambda f: f["id"], reverse=True)]
            if name == "cohorts":
                return [public(c) for c in cohort_rows(data, pid)]
            if name == "event_definitions":
                return [public(d) for d in event_definition_rows(data, pid, [])]
            if name.endswith("_property_definitions"):
                rows, builtins = property_definition_rows(data, pid, name.split("_")[0])
                return [public(r) for r in rows] + builtins
            if name == "annotations":
                return [public(a) for a in annotation_rows(data, pid)]
        raise KeyError(f"unknown stream {name!r}; expected one of {STREAMS}")

    def rest_persons(self, project_id: int | None = None) -> list[dict[str, Any]]:
        """Persons as the REST list renders them (the visible rows, newest first)."""
        data = self._data
        with data.lock:
            rows = person_rows(data, project_id or data.project_id)
            return [public(p) for p in rows if not p["_hidden"]]

    def ids(self, name: str, project_id: int | None = None) -> list[Any]:
        """Primary keys of :meth:`records` in the same order (``distinct_id`` for that table)."""
        if name == "events":
            data = self._data
            with data.lock:
                if (project_id or data.project_id) != data.project_id:
                    return []
                return data.events.ids()
        key = "distinct_id" if name == "person_distinct_ids" else "id"
        return [r[key] for r in self.records(name, project_id)]
