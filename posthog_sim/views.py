"""Which rows each list endpoint returns and in what order (shared by endpoints and truth)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from .catalog import builtin_person_properties
from .dataset import Dataset
from .render import ApiError

PROPERTY_TYPES = ("event", "person", "group", "session")
EVENT_DEFINITION_ORDERINGS = (
    "name",
    "-name",
    "last_seen_at",
    "-last_seen_at",
    "last_seen_at::date",
    "-last_seen_at::date",
)


def _desc(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Sort by ``key`` DESC (NULLs first, as PostgreSQL does), ties by id DESC."""
    present = [r for r in rows if r[key] is not None]
    missing = [r for r in rows if r[key] is None]
    present.sort(key=lambda r: (r[key], r["id"]), reverse=True)
    missing.sort(key=lambda r: r["id"], reverse=True)
    return missing + present


def org_projects(data: Dataset, scoped_teams: Sequence[int] | None) -> list[dict[str, Any]]:
    """Projects of the main organization, optionally restricted to a key's scoped teams."""
    rows = [p for p in data.projects.values() if p["organization"] == data.org_id]
    if scoped_teams is not None:
        rows = [p for p in rows if p["id"] in scoped_teams]
    return sorted(rows, key=lambda p: p["id"])


def project_detail_row(data: Dataset, project_id: int) -> dict[str, Any]:
    """``GET /api/projects/{id}/``: the project with the detail serializer's extra fields."""
    return {
        **data.projects[project_id],
        "created_at": "2024-01-01T00:00:00Z",
        "person_display_name_properties": ["email", "name", "username"],
    }


def person_rows(data: Dataset, project_id: int) -> list[dict[str, Any]]:
    """All person rows, hidden ones included, ordered created_at DESC, id DESC."""
    tables = data.project(project_id)
    return list(tables.persons) if tables is not None else []


def flag_rows(data: Dataset, project_id: int, archived: str | None) -> list[dict[str, Any]]:
    """Flags as the list returns them: never deleted; archived only via the ``archived`` param."""
    tables = data.project(project_id)
    if tables is None:
        return []
    rows = [f for f in tables.flags if not f["deleted"]]
    if archived is None:
        rows = [f for f in rows if not f["archived"]]
    else:
        wanted = archived.lower() in ("true", "1", "yes")
        rows = [f for f in rows if f["archived"] == wanted]
    return _desc(rows, "created_at")


def cohort_rows(data: Dataset, project_id: int) -> list[dict[str, Any]]:
    """Non-deleted cohorts, newest first."""
    tables = data.project(project_id)
    if tables is None:
        return []
    return _desc([c for c in tables.cohorts if not c["deleted"]], "created_at")


def _seen_day(row: dict[str, Any]) -> date | None:
    value: datetime | None = row["last_seen_at"]
    return value.date() if value is not None else None


def event_definition_rows(
    data: Dataset, project_id: int, orderings: Sequence[str]
) -> list[dict[str, Any]]:
    """Event definitions; default order ``last_seen_at::date DESC NULLS LAST, name``."""
    tables = data.project(project_id)
    if tables is None:
        return []
    for ordering in orderings:
        if ordering not in EVENT_DEFINITION_ORDERINGS:
            raise ApiError.validation(f"Invalid ordering: {ordering}", attr="ordering")
    rows = list(tables.event_definitions)
    keys = list(orderings) or ["-last_seen_at::date", "name"]
    for ordering in reversed(keys):
        field = ordering.lstrip("-")
        desc = ordering.startswith("-")
        if field == "name":
            rows.sort(key=lambda r: r["name"], reverse=desc)
            continue
        getter = _seen_day if field.endswith("::date") else (lambda r: r["last_seen_at"])
        present = sorted((r for r in rows if getter(r) is not None), key=getter, reverse=desc)
        missing = [r for r in rows if getter(r) is None]
        rows = present + missing
    return rows


def property_definition_rows(
    data: Dataset, project_id: int, kind: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Stored definitions of ``kind`` (verified first, then name) and the virtual builtins."""
    if kind not in PROPERTY_TYPES:
        raise ApiError.validation(f'"{kind}" is not a valid choice.', attr="type")
    if kind == "group":
        raise ApiError.validation("`group_type_index` must be set for `group` type")
    tables = data.project(project_id)
    if tables is None:
        return [], []
    rows = sorted(tables.property_definitions[kind], key=lambda r: (not r["verified"], r["name"]))
    return rows, (builtin_person_properties() if kind == "person" else [])


def annotation_rows(data: Dataset, project_id: int) -> list[dict[str, Any]]:
    """The project's annotations plus organization-scoped ones from any project of the org."""
    org = data.projects[project_id]["organization"] if project_id in data.projects else None
    rows = []
    for pid, project_rows in data.annotations.items():
        same_org = data.projects[pid]["organization"] == org
        for row in project_rows:
            if row["deleted"]:
                continue
            if pid == project_id or (row["scope"] == "organization" and same_org):
                rows.append(row)
    return _desc(rows, "date_marker")
