"""REST list/detail handlers: filtering, LimitOffset pagination and envelopes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .auth import ApiKey
from .dataset import Dataset
from .http_types import Request, Response
from .pagination import limit_offset, page_links
from .render import json_response, public
from .views import (
    annotation_rows,
    cohort_rows,
    event_definition_rows,
    flag_rows,
    org_projects,
    person_rows,
    project_detail_row,
    property_definition_rows,
)

_LIST_FIELDS = (
    "id",
    "uuid",
    "organization",
    "api_token",
    "name",
    "completed_snippet_onboarding",
    "has_completed_onboarding_for",
    "ingested_event",
    "is_demo",
    "timezone",
    "access_control",
    "secret_api_token",
    "secret_api_token_backup",
)


@dataclass
class Ctx:
    """What a handler gets: the dataset, the request, the resolved project and the key."""

    data: Dataset
    request: Request
    project_id: int | None
    key: ApiKey
    #: Named groups of the matched route (e.g. ``cohort_id``).
    match: dict[str, str] = field(default_factory=dict)


def _paged(ctx: Ctx, rows: list[dict[str, Any]], default_limit: int = 100) -> Response:
    req = ctx.request
    limit, offset = limit_offset(req.query, default_limit)
    next_url, previous = page_links(req.base_url, req.path, req.query, limit, offset, len(rows))
    results = [public(r) for r in rows[offset : offset + limit]]
    return json_response(
        {"count": len(rows), "next": next_url, "previous": previous, "results": results}
    )


def list_projects(ctx: Ctx) -> Response:
    """``GET /api/projects/`` (and the organization-scoped variant)."""
    rows = [{k: p[k] for k in _LIST_FIELDS} for p in org_projects(ctx.data, ctx.key.scoped_teams)]
    return _paged(ctx, rows)


def project_detail(ctx: Ctx) -> Response:
    """``GET /api/projects/{id}/``."""
    assert ctx.project_id is not None
    return json_response(public(project_detail_row(ctx.data, ctx.project_id)))


def list_persons(ctx: Ctx) -> Response:
    """Persons: hidden rows take offset slots, no ``count`` unless ``include_total``."""
    req = ctx.request
    rows = person_rows(ctx.data, ctx.project_id or 0)
    distinct_id, email = req.param("distinct_id"), req.param("email")
    if distinct_id:
        rows = [p for p in rows if distinct_id in p["distinct_ids"]]
    if email:
        rows = [p for p in rows if p["properties"].get("email") == email]
    limit, offset = limit_offset(req.query, 100)
    next_url, previous = page_links(req.base_url, req.path, req.query, limit, offset, len(rows))
    page = [public(p) for p in rows[offset : offset + limit] if not p["_hidden"]]
    body: dict[str, Any] = {"results": page, "next": next_url, "previous": previous}
    if "include_total" in req.query:
        body["count"] = sum(1 for p in rows if not p["_hidden"])
    return json_response(body)


def list_flags(ctx: Ctx) -> Response:
    """Feature flags (``archived`` param switches between archived and active ones)."""
    return _paged(ctx, flag_rows(ctx.data, ctx.project_id or 0, ctx.request.param("archived")))


def list_cohorts(ctx: Ctx) -> Response:
    """Cohorts."""
    return _paged(ctx, cohort_rows(ctx.data, ctx.project_id or 0))


def list_event_definitions(ctx: Ctx) -> Response:
    """Event definitions, honouring ``ordering``."""
    orderings = [
        o.strip() for v in ctx.request.query.get("ordering", []) for o in v.split(",") if o.strip()
    ]
    return _paged(ctx, event_definition_rows(ctx.data, ctx.project_id or 0, orderings))


def list_property_definitions(ctx: Ctx) -> Response:
    """Property definitions; ``type=person`` appends virtual builtins to the last page."""
    req = ctx.request
    kind = req.param("type") or "event"
    rows, builtins = property_definition_rows(ctx.data, ctx.project_id or 0, kind)
    limit, offset = limit_offset(req.query, 100)
    db_count = len(rows)
    next_url, previous = page_links(req.base_url, req.path, req.query, limit, offset, db_count)
    page = [] if offset > db_count else [public(r) for r in rows[offset : offset + limit]]
    if offset + len(page) >= db_count:
        page.extend(builtins)
    return json_response(
        {"count": db_count + len(builtins), "next": next_url, "previous": previous, "results": page}
    )


def list_annotations(ctx: Ctx) -> Response:
    """Annotations (default limit 1000), organization-scoped ones included."""
    return _paged(ctx, annotation_rows(ctx.data, ctx.project_id or 0), default_limit=1000)
