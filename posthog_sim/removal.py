"""Deleting and restoring rows of the whole-read tables, the way PostHog hides deleted rows.

- Feature flags, cohorts and annotations are soft-deleted: the row keeps ``deleted=True`` and
  the list leaves it out (products/feature_flags/backend/api/feature_flag.py
  ``filter(deleted=False)``; the cohort viewset excludes deleted; products/annotations/
  backend/api/annotation.py excludes deleted rows).
- A deleted person drops out of the persons list (posthog/queries/person_query.py
  ``HAVING max(is_deleted) = 0``); here it becomes a hidden offset slot, and ClickHouse gets
  the deletion rows of the person and its distinct ids (HogQL ``persons`` and
  ``person_distinct_ids`` drop it). Restoring writes newer live rows.
- Dashboards, actions and experiments are soft-deleted too (``deleted=True``, hidden by
  posthog/api/dashboards/dashboard.py, products/actions/backend/api/action.py and
  products/experiments/backend/presentation/experiments.py).
- Surveys are hard-deleted (products/surveys/backend/api/survey.py ``destroy``), and so are
  group types (ee/clickhouse/views/groups.py ``GroupsTypesViewSet``, newer versions) and groups
  (removed from ClickHouse).
- A cohort member leaves a static cohort (posthog/api/cohort.py ``remove_person_from_static_
  cohort``) or stops matching a dynamic one: the cohort's ``/persons/`` list no longer has it.
- A distinct id leaves ``person_distinct_ids`` with a row ``is_deleted = 1`` at a higher
  version (posthog/models/person/util.py ``delete_person``/``_delete_ch_distinct_id`` write
  such rows); restoring writes a newer live row.
- Definitions and projects are hard-deleted (``destroy`` on posthog/api/event_definition.py,
  posthog/taxonomy/property_definition_api.py, posthog/api/project.py): the row is removed and
  kept aside so a test can put the same row back ("restore").
"""

from __future__ import annotations

from typing import Any

#: Whole-read streams and how each one is deleted.
SOFT_FLAG = {
    "feature_flags": "flags",
    "cohorts": "cohorts",
    "dashboards": "dashboards",
    "actions": "actions",
    "experiments": "experiments",
}
HARD = ("event_definitions", "event_property_definitions", "person_property_definitions",
        "session_property_definitions", "projects", "surveys", "group_types")  # fmt: skip
KEYED = ("groups", "cohort_people", "person_distinct_ids")
STREAMS = ("persons", *SOFT_FLAG, "annotations", *HARD, *KEYED)


def _rows(data: Any, stream: str) -> list[dict[str, Any]]:
    if stream == "persons":
        return data.persons
    if stream in SOFT_FLAG:
        return getattr(data, SOFT_FLAG[stream])
    if stream == "annotations":
        return [row for rows in data.annotations.values() for row in rows]
    if stream == "event_definitions":
        return data.event_definitions
    if stream == "surveys":
        return data.surveys
    if stream.endswith("_property_definitions"):
        return data.property_definitions[stream.split("_")[0]]
    raise KeyError(f"no deletable stream {stream!r}; expected one of {STREAMS}")


def _find(rows: list[dict[str, Any]], row_id: Any, stream: str) -> dict[str, Any]:
    for row in rows:
        if row["id"] == row_id:
            return row
    raise KeyError(f"no {stream} row with id {row_id!r}")


def set_deleted(data: Any, stream: str, row_id: Any, deleted: bool) -> None:
    """Delete (``deleted=True``) or restore one row of ``stream`` (caller holds the lock)."""
    if stream == "projects":
        _set_project(data, row_id, deleted)
    elif stream == "group_types":
        _set_group_type(data, row_id, deleted)
    elif stream == "groups":
        _set_group(data, row_id, deleted)
    elif stream == "cohort_people":
        _set_member(data, row_id, deleted)
    elif stream == "person_distinct_ids":
        _set_distinct_id(data, row_id, deleted)
    elif stream in HARD:
        _set_hard(data, stream, row_id, deleted)
    elif stream == "persons":
        person = _find(data.persons, row_id, stream)
        person["_hidden"] = deleted
        if deleted:  # ClickHouse as PostHog's delete_person writes it (see Dataset)
            data._delete_in_clickhouse(person)
        else:
            data._restore_in_clickhouse(person)
    else:
        row = _find(_rows(data, stream), row_id, stream)
        row["deleted"] = deleted
        if stream == "feature_flags":
            row["status"] = "deleted" if deleted else "archived" if row["archived"] else "active"


def _set_hard(data: Any, stream: str, row_id: Any, deleted: bool) -> None:
    rows = _rows(data, stream)
    removed = data.removed.setdefault(stream, {})
    if deleted:
        row = _find(rows, row_id, stream)
        rows.remove(row)
        removed[row_id] = row
    elif row_id in removed:
        rows.append(removed.pop(row_id))
    else:
        _find(rows, row_id, stream)  # present already, or unknown: KeyError


def _set_project(data: Any, project_id: int, deleted: bool) -> None:
    removed = data.removed.setdefault("projects", {})
    if project_id == data.project_id:
        raise ValueError("the main project cannot be deleted (every other table lives in it)")
    if deleted:
        if project_id not in data.projects:
            raise KeyError(f"no projects row with id {project_id!r}")
        removed[project_id] = data.projects.pop(project_id)
    elif project_id in removed:
        data.projects[project_id] = removed.pop(project_id)


def _set_group_type(data: Any, index: int, deleted: bool) -> None:
    removed = data.removed.setdefault("group_types", {})
    if deleted:
        row = _find_by(data.group_types, "group_type_index", index, "group_types")
        data.group_types.remove(row)
        removed[index] = row
    elif index in removed:
        data.group_types.append(removed.pop(index))
        data.group_types.sort(key=lambda r: r["group_type_index"])


def _set_group(data: Any, key: tuple[int, str], deleted: bool) -> None:
    index, group_key = key
    removed = data.removed.setdefault("groups", {})
    rows = data.groups.setdefault(index, [])
    if deleted:
        row = _find_by(rows, "group_key", group_key, "groups")
        rows.remove(row)
        removed[key] = row
    elif key in removed:
        rows.append(removed.pop(key))
        rows.sort(key=lambda g: (g["created_at"], g["group_key"]), reverse=True)


def _set_member(data: Any, key: tuple[int, str], deleted: bool) -> None:
    cohort_id, person_id = key
    members = data.cohort_members.setdefault(cohort_id, [])
    if deleted:
        if person_id not in members:
            raise KeyError(f"no cohort_people row with key {key!r}")
        members.remove(person_id)
    elif person_id not in members:
        members.append(person_id)


def _find_by(rows: list[dict[str, Any]], field: str, value: Any, stream: str) -> dict[str, Any]:
    for row in rows:
        if row[field] == value:
            return row
    raise KeyError(f"no {stream} row with {field} {value!r}")


def _set_distinct_id(data: Any, distinct_id: str, deleted: bool) -> None:
    removed = data.removed.setdefault("person_distinct_ids", {})
    if deleted:
        owner = next((p for p in data.persons if distinct_id in p["distinct_ids"]), None)
        if owner is None:
            raise KeyError(f"no person_distinct_ids row with distinct_id {distinct_id!r}")
        owner["distinct_ids"].remove(distinct_id)
        removed[distinct_id] = owner
        data.write_distinct_id(owner, distinct_id, deleted=True)
    elif distinct_id in removed:
        owner = removed.pop(distinct_id)
        owner["distinct_ids"].append(distinct_id)
        data.write_distinct_id(owner, distinct_id, deleted=False)
