"""Rows of the further list endpoints, in PostHog's order (shared by endpoints and truth).

Each function cites the PostHog code it follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from .dataset import Dataset
from .people import person_sort_key
from .project_data import ProjectData
from .recordings import RETENTION_DAYS
from .render import ApiError
from .times import parse_datetime, utc_now

#: The experiments ``order`` allowlist
#: (products/experiments/backend/presentation/experiments.py).
EXPERIMENT_ORDERS = frozenset(
    f"{sign}{field}"
    for sign in ("", "-")
    for field in ("created_at", "updated_at", "name", "start_date", "end_date", "status")
)
ACTION_ORDERINGS = frozenset(
    f"{s}{f}" for s in ("", "-") for f in ("name", "created_at", "pinned_at")
)


def _tables(data: Dataset, project_id: int) -> ProjectData | None:
    return data.project(project_id)


def _sorted_desc(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    present = sorted((r for r in rows if r[key] is not None), key=lambda r: (r[key], str(r["id"])),
                     reverse=True)  # fmt: skip
    missing = sorted((r for r in rows if r[key] is None), key=lambda r: str(r["id"]), reverse=True)
    return missing + present  # PostgreSQL DESC puts NULLs first


def relative_or_iso(text: str, tz: Any) -> datetime | None:
    """Parse like ``relative_date_parse``: ``-7d``, ``-3h``, ``-2w``, ``-1m`` or ISO in ``tz``."""
    text = text.strip()
    if len(text) >= 3 and text[0] == "-" and text[-1] in "hdwmy" and text[1:-1].isdigit():
        amount = int(text[1:-1])
        hours = {"h": 1, "d": 24, "w": 24 * 7, "m": 24 * 30, "y": 24 * 365}[text[-1]]
        return utc_now() - timedelta(hours=amount * hours)
    return parse_datetime(text, tz)


def insight_rows(
    data: Dataset, project_id: int, query: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """``InsightViewSet``.

    deleted hidden; ``date_from``/``date_to`` strictly on last_modified_at; order ``order`` ASC
    NULLS LAST (ties by id here) unless ``order=<field>``
    (products/product_analytics/backend/api/insight.py ``_filter_request``,
    ``order_queryset``).
    """
    t = _tables(data, project_id)
    if t is None:
        return []
    rows = [r for r in t.insights if not r["deleted"]]
    for param, keep in (("date_from", lambda a, b: a > b), ("date_to", lambda a, b: a < b)):
        values = query.get(param)
        if values and values[-1]:
            bound = relative_or_iso(values[-1], t.tz)
            if bound is None:
                raise ApiError.validation(f"Invalid date: {values[-1]}", attr=param)
            rows = [r for r in rows if keep(r["last_modified_at"], bound)]
    order = (query.get("order") or [""])[-1]
    if order:
        field = order.lstrip("-")
        if not rows or field not in rows[0]:
            raise ApiError(500, "server_error", "error", "A server error occurred.")
        return sorted(rows, key=lambda r: (r[field] is None, r[field] or 0, r["id"]),
                      reverse=order.startswith("-"))  # fmt: skip
    return sorted(rows, key=lambda r: (r["order"] is None, r["order"] or 0, r["id"]))


def dashboard_rows(data: Dataset, project_id: int, mode: str | None) -> list[dict[str, Any]]:
    """``DashboardsViewSet``.

    deleted hidden; unlisted hidden unless ``creation_mode`` is given (then only that mode);
    order ``-pinned, name`` (posthog/api/dashboards/dashboard.py).
    """
    t = _tables(data, project_id)
    if t is None:
        return []
    rows = [r for r in t.dashboards if not r["deleted"]]
    if mode is None:
        rows = [r for r in rows if r["creation_mode"] != "unlisted"]
    else:
        rows = [r for r in rows if r["creation_mode"] == mode]
    return sorted(rows, key=lambda r: (not r["pinned"], r["name"], r["id"]))


def action_rows(data: Dataset, project_id: int, orderings: Sequence[str]) -> list[dict[str, Any]]:
    """``ActionViewSet.list``.

    deleted hidden; order ``-last_calculated_at`` (NULLs first), ``name``; ``ordering`` in
    name/created_at/pinned_at with a name tiebreak (products/actions/backend/api/action.py).
    """
    t = _tables(data, project_id)
    if t is None:
        return []
    rows = [r for r in t.actions if not r["deleted"]]
    valid = [o for o in orderings if o in ACTION_ORDERINGS]
    if valid:
        rows.sort(key=lambda r: r["name"])
        field = valid[0].lstrip("-")
        present = [r for r in rows if r[field] is not None]
        missing = [r for r in rows if r[field] is None]
        present.sort(key=lambda r: r[field], reverse=valid[0].startswith("-"))
        return present + missing
    rows.sort(key=lambda r: r["name"])
    missing = [r for r in rows if r["last_calculated_at"] is None]
    present = sorted((r for r in rows if r["last_calculated_at"] is not None),
                     key=lambda r: r["last_calculated_at"], reverse=True)  # fmt: skip
    return missing + present


def experiment_rows(
    data: Dataset, project_id: int, archived: str | None, order: str | None
) -> list[dict[str, Any]]:
    """``filter_experiments_queryset``.

    deleted hidden; archived hidden unless ``archived`` is given (``true`` -> only archived,
    anything else -> only active); order ``-created_at``
    (products/experiments/backend/experiment_service.py).
    """
    if order and order not in EXPERIMENT_ORDERS:
        raise ApiError.validation(f"Invalid order field: '{order}'")
    t = _tables(data, project_id)
    if t is None:
        return []
    wanted = archived is not None and archived.lower() == "true"
    rows = [r for r in t.experiments if not r["deleted"] and r["archived"] == wanted]
    if order:
        field = order.lstrip("-")
        return sorted(rows, key=lambda r: (r[field] is None, str(r[field]), r["id"]),
                      reverse=order.startswith("-"))  # fmt: skip
    return _sorted_desc(rows, "created_at")


def survey_rows(data: Dataset, project_id: int, archived: str | None) -> list[dict[str, Any]]:
    """``SurveyViewSet.safely_get_queryset``.

    product-tour surveys excluded; ``archived`` filter only when given; order ``-created_at``
    (products/surveys/backend/api/survey.py).
    """
    t = _tables(data, project_id)
    if t is None:
        return []
    rows = [r for r in t.surveys if not r["_product_tour"]]
    if archived is not None:
        wanted = archived.lower() in ("true", "1")
        rows = [r for r in rows if r["archived"] == wanted]
    return _sorted_desc(rows, "created_at")


def group_type_rows(data: Dataset, project_id: int) -> list[dict[str, Any]]:
    """``GroupsTypesViewSet.list`` (ee/clickhouse/views/groups.py), by group_type_index."""
    t = _tables(data, project_id)
    return list(t.group_types) if t is not None else []


def group_rows(data: Dataset, project_id: int, index: int) -> list[dict[str, Any]]:
    """Groups of one type, ``created_at DESC, group_key DESC`` (posthog/models/group/util.py)."""
    t = _tables(data, project_id)
    return list(t.groups.get(index, [])) if t is not None else []


def recording_rows(
    data: Dataset, project_id: int, lo: datetime | None, hi: datetime | None
) -> list[dict[str, Any]]:
    """Recordings started in ``[lo, hi]`` and.

    inside the retention floor, ``start_time DESC``
    (posthog/session_recordings/queries/session_recording_list_from_query.py).
    """
    t = _tables(data, project_id)
    if t is None:
        return []
    floor = utc_now() - timedelta(days=RETENTION_DAYS)
    rows = [r for r in t.recordings if r["start_time"] >= floor]
    if lo is not None:
        rows = [r for r in rows if r["start_time"] >= lo]
    if hi is not None:
        rows = [r for r in rows if r["start_time"] <= hi]
    return rows


def cohort_member_rows(data: Dataset, project_id: int, cohort_id: int) -> list[dict[str, Any]]:
    """Members of one cohort, ghosts included, newest first (posthog/api/cohort.py)."""
    t = _tables(data, project_id)
    if t is None:
        return []
    members = set(t.cohort_members.get(cohort_id, ()))
    rows = [p for p in t.persons if p["id"] in members]
    return sorted(rows, key=person_sort_key, reverse=True)


def find_cohort(data: Dataset, project_id: int, cohort_id: int) -> dict[str, Any] | None:
    """A cohort by id, deleted ones included (they still answer ``/persons/``)."""
    t = _tables(data, project_id)
    if t is None:
        return None
    return next((c for c in t.cohorts if c["id"] == cohort_id), None)
