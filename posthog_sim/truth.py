"""Ground truth: what a correct full sync of each stream must produce."""

from __future__ import annotations

from typing import Any

from . import further_views as fv
from .dataset import Dataset
from .person_records import distinct_id_records, person_records
from .product import INSIGHT_BASIC_FIELDS
from .render import public
from .sessions import session_property_definitions
from .views import (
    annotation_rows,
    cohort_rows,
    event_definition_rows,
    flag_rows,
    person_rows,
    project_detail_row,
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
    "insights",
    "dashboards",
    "actions",
    "experiments",
    "surveys",
    "group_types",
    "groups",
    "session_recordings",
    "cohort_people",
    "sessions",
)
#: Fields that identify a record within one project (``id`` when not listed).
KEYS: dict[str, tuple[str, ...]] = {
    "person_distinct_ids": ("distinct_id",),
    "group_types": ("group_type_index",),
    "groups": ("group_type_index", "group_key"),
    "cohort_people": ("cohort_id", "id"),
    "sessions": ("session_id",),
}
#: HogQL ``sessions`` aliases the tap leaves out (``id`` = session_id, ``duration``).
_SESSION_ALIASES = ("id", "duration")


def _bounce(key: str, value: Any) -> Any:
    """``$is_bounce`` as a boolean (None stays None); other values unchanged."""
    return bool(value) if key == "$is_bounce" and value is not None else value


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
            if name == "sessions":
                # HogQL ``sessions`` as the tap emits it: field names without ``$``
                # (``$is_bounce`` is PostHog's BooleanDatabaseField: the tap emits a boolean)
                return [
                    {k.lstrip("$"): _bounce(k, v) for k, v in row.items()
                     if k not in _SESSION_ALIASES}
                    for row in data.hogql_sessions(pid)
                ] if data.project(pid) is not None else []  # fmt: skip
            if name == "events":
                tables = data.project(pid)
                return tables.events.records() if tables is not None else []
            if name == "projects":
                # The tap reads the configured project's detail (GET /api/projects/{id}/).
                return [public(project_detail_row(data, pid))]
            if name == "persons":
                rows = data.hogql_persons(pid)
                return person_records(rows, pid)
            if name == "person_distinct_ids":
                pairs = data.hogql_person_distinct_ids(pid)
                return distinct_id_records(pairs, pid)
            if name == "feature_flags":
                rows = flag_rows(data, pid, "false") + flag_rows(data, pid, "true")
                return [public(f) for f in sorted(rows, key=lambda f: f["id"], reverse=True)]
            if name == "cohorts":
                return [public(c) for c in cohort_rows(data, pid)]
            if name == "event_definitions":
                return [public(d) for d in event_definition_rows(data, pid, [])]
            if name == "session_property_definitions":
                # The tap reads GET /sessions/property_definitions/ (posthog/api/session.py).
                return session_property_definitions() if pid in data.by_project else []
            if name.endswith("_property_definitions"):
                rows, builtins = property_definition_rows(data, pid, name.split("_")[0])
                return [public(r) for r in rows] + builtins
            if name == "annotations":
                return [public(a) for a in annotation_rows(data, pid)]
            further = self._further(name, pid)
            if further is not None:
                return further
        raise KeyError(f"unknown stream {name!r}; expected one of {STREAMS}")

    def events_with_person_properties(self, project_id: int | None = None) -> list[dict[str, Any]]:
        """Events as the tap emits them with ``events_person_properties`` on.

        Each record is :meth:`records` ``("events")`` plus ``person_properties``: the person's
        properties when the event was ingested (HogQL ``person.properties``, persons on events).
        """
        data = self._data
        with data.lock:
            tables = data.project(project_id or data.project_id)
            return tables.events.records(person_properties=True) if tables is not None else []

    def rest_persons(self, project_id: int | None = None) -> list[dict[str, Any]]:
        """Persons as the REST list renders them (the visible rows, newest first)."""
        data = self._data
        with data.lock:
            rows = person_rows(data, project_id or data.project_id)
            return [public(p) for p in rows if not p["_hidden"]]

    def _further(self, name: str, pid: int) -> list[dict[str, Any]] | None:
        data = self._data
        if name == "insights":
            rows = fv.insight_rows(data, pid, {})
            return [public({k: r[k] for k in INSIGHT_BASIC_FIELDS}) for r in rows]
        if name == "dashboards":
            rows = fv.dashboard_rows(data, pid, None) + fv.dashboard_rows(data, pid, "unlisted")
            return [public(r) for r in rows]
        if name == "actions":
            return [public(r) for r in fv.action_rows(data, pid, [])]
        if name == "experiments":
            rows = fv.experiment_rows(data, pid, None, None)
            return [public(r) for r in rows + fv.experiment_rows(data, pid, "true", None)]
        if name == "surveys":
            return [public(r) for r in fv.survey_rows(data, pid, None)]
        if name == "group_types":
            return [public(r) for r in fv.group_type_rows(data, pid)]
        if name == "groups":
            return [
                public(g)
                for t in fv.group_type_rows(data, pid)
                for g in fv.group_rows(data, pid, t["group_type_index"])
            ]
        if name == "session_recordings":
            return [
                {**public(r), "person": public(r["person"])}
                for r in fv.recording_rows(data, pid, None, None)
            ]
        if name == "cohort_people":
            return [
                {**public(p), "cohort_id": c["id"]}
                for c in cohort_rows(data, pid)
                for p in fv.cohort_member_rows(data, pid, c["id"])
                if not p["_hidden"]
            ]
        return None

    def ids(self, name: str, project_id: int | None = None) -> list[Any]:
        """Primary keys of :meth:`records` in the same order (tuples for composite :data:`KEYS`)."""
        if name == "events":
            data = self._data
            with data.lock:
                tables = data.project(project_id or data.project_id)
                return tables.events.ids() if tables is not None else []
        fields = KEYS.get(name, ("id",))
        if len(fields) == 1:
            return [r[fields[0]] for r in self.records(name, project_id)]
        return [tuple(r[f] for f in fields) for r in self.records(name, project_id)]
