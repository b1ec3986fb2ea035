"""Handlers of the further list endpoints.

insights, dashboards, actions, experiments, surveys, group types, groups, session recordings
and cohort members, each shaped like PostHog's.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from . import further_views as fv
from .auth import check_scope
from .endpoints import Ctx, _paged
from .groups import GROUPS_PAGE_SIZE, after_cursor, decode_cursor, encode_cursor
from .http_types import Response
from .pagination import limit_offset
from .product import INSIGHT_BASIC_FIELDS
from .render import ApiError, json_response, public


def list_insights(ctx: Ctx) -> Response:
    """Insights; ``basic=true`` renders ``InsightBasicSerializer`` fields only."""
    query = ctx.request.query
    rows = fv.insight_rows(ctx.data, ctx.project_id or 0, query)
    if (ctx.request.param("basic") or "").lower() in ("true", "1"):
        rows = [{k: r[k] for k in INSIGHT_BASIC_FIELDS} for r in rows]
    return _paged(ctx, rows)


def list_dashboards(ctx: Ctx) -> Response:
    """Dashboards (``DashboardBasicSerializer``)."""
    mode = ctx.request.param("creation_mode")
    return _paged(ctx, fv.dashboard_rows(ctx.data, ctx.project_id or 0, mode))


def _opt_int(ctx: Ctx, name: str) -> int | None:
    """``ActionViewSet.list``: a non-negative integer, anything else is ignored."""
    raw = ctx.request.param(name)
    if raw is None or not raw.isdigit():
        return None
    return int(raw)


def list_actions(ctx: Ctx) -> Response:
    """Actions: ``{"count", "results"}`` and no links; the whole list unless ``limit`` is sent."""
    orderings = [o for v in ctx.request.query.get("ordering", []) for o in v.split(",") if o]
    rows = fv.action_rows(ctx.data, ctx.project_id or 0, orderings)
    search = ctx.request.param("search")
    if search:
        rows = [r for r in rows if search.lower() in str(r["name"]).lower()]
    offset = _opt_int(ctx, "offset") or 0
    limit = _opt_int(ctx, "limit")
    page = rows[offset:] if limit is None else rows[offset : offset + limit]
    count = len(rows) if limit is not None else offset + len(page)
    return json_response({"count": count, "results": [public(r) for r in page]})


def list_experiments(ctx: Ctx) -> Response:
    """Experiments: archived ones only with ``archived=true``."""
    req = ctx.request
    rows = fv.experiment_rows(
        ctx.data, ctx.project_id or 0, req.param("archived"), req.param("order")
    )
    return _paged(ctx, rows)


def list_surveys(ctx: Ctx) -> Response:
    """Surveys (archived ones listed by default)."""
    return _paged(ctx, fv.survey_rows(ctx.data, ctx.project_id or 0, ctx.request.param("archived")))


def list_group_types(ctx: Ctx) -> Response:
    """Group types: a bare JSON array (``pagination_class = None``)."""
    return json_response([public(r) for r in fv.group_type_rows(ctx.data, ctx.project_id or 0)])


def list_groups(ctx: Ctx) -> Response:
    """Groups of one type: 100 a page, keyset ``cursor`` in ``next``, ``previous`` always null."""
    req = ctx.request
    raw_index = req.param("group_type_index")
    if not raw_index:
        raise ApiError.validation(
            "You must pass ?group_type_index= in this URL. To get a list of valid group types, "
            "call /api/:project_id/groups_types/.",
            attr="group_type_index",
        )
    try:
        index = int(raw_index)
    except ValueError:
        raise ApiError.validation("A valid integer is required.", attr="group_type_index") from None
    rows = fv.group_rows(ctx.data, ctx.project_id or 0, index)
    key_filter = req.param("group_key") or ""
    if key_filter:
        rows = [g for g in rows if key_filter.lower() in g["group_key"].lower()]
    cursor = req.param("cursor")
    if cursor:
        rows = after_cursor(rows, *decode_cursor(cursor))
    page = rows[:GROUPS_PAGE_SIZE]
    next_url = None
    if len(rows) > GROUPS_PAGE_SIZE:
        params: dict[str, Any] = {"group_type_index": index, "cursor": encode_cursor(page[-1])}
        if key_filter:
            params["group_key"] = key_filter
        next_url = f"{req.base_url}{req.path}?{urlencode(params)}"
    return json_response({"next": next_url, "previous": None, "results": [public(g) for g in page]})


def _json_param(ctx: Ctx, name: str) -> Any:
    """``query_as_params_to_dict``: every query value is JSON-decoded when it parses."""
    raw = ctx.request.param(name)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def list_session_recordings(ctx: Ctx) -> Response:
    """Recordings: ``{"results", "has_next", "version": 4}``; limit 50, date_from ``-3d``."""
    limit, offset = _json_param(ctx, "limit"), _json_param(ctx, "offset")
    for name, value in (("limit", limit), ("offset", offset)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ApiError.validation("Input should be a valid integer", attr=name)
    limit = 50 if limit is None else limit
    offset = offset or 0
    bounds = []
    for name, default in (("date_from", "-3d"), ("date_to", None)):
        value = _json_param(ctx, name)
        text = default if value is None else str(value)
        if text is None or text == "all":
            bounds.append(None)
            continue
        parsed = fv.relative_or_iso(text, ctx.data.tz_of(ctx.project_id))
        if parsed is None:
            raise ApiError.validation(f"Invalid date: {text}", attr=name)
        bounds.append(parsed)
    rows = fv.recording_rows(ctx.data, ctx.project_id or 0, bounds[0], bounds[1])
    if str(_json_param(ctx, "order_direction") or "DESC").upper() == "ASC":
        rows = rows[::-1]
    window = rows[offset : offset + limit + 1]
    return json_response(
        {
            "results": [_render_recording(r) for r in window[:limit]],
            "has_next": len(window) > limit,
            "version": 4,
        }
    )


def _render_recording(row: dict[str, Any]) -> dict[str, Any]:
    rendered = public(row)
    rendered["person"] = public(row["person"])
    return rendered


def _with_offset(ctx: Ctx, offset: int) -> str:
    """``format_query_params_absolute_url``.

    the current URL, its ``offset`` replaced in place (or appended); offset 0 returns the
    current URL unchanged (posthog/utils.py).
    """
    req = ctx.request
    current = f"{req.base_url}{req.path}"
    pairs = [(k, v) for k, values in req.query.items() for v in values]
    if offset == 0:
        return f"{current}?{urlencode(pairs)}" if pairs else current
    if any(k == "offset" for k, _ in pairs):
        pairs = [(k, str(offset) if k == "offset" else v) for k, v in pairs]
    else:
        pairs.append(("offset", str(offset)))
    return f"{current}?{urlencode(pairs)}"


def list_cohort_persons(ctx: Ctx) -> Response:
    """``CohortViewSet.persons``.

    ghosts dropped after the page is cut; ``next`` when the raw page was full; scopes
    cohort:read and person:read (posthog/api/cohort.py).
    """
    check_scope(ctx.key, "person:read", ctx.project_id)
    cohort_id = int(ctx.match["cohort_id"])
    if fv.find_cohort(ctx.data, ctx.project_id or 0, cohort_id) is None:
        raise ApiError.not_found("Not found.")
    raw_limit = ctx.request.param("limit")
    if raw_limit not in (None, "") and not raw_limit.isdigit():
        raise ApiError(500, "server_error", "error", "A server error occurred.")
    limit, offset = limit_offset(ctx.request.query, 100)
    rows = fv.cohort_member_rows(ctx.data, ctx.project_id or 0, cohort_id)
    raw_page = rows[offset : offset + limit]
    results = []
    for person in raw_page:
        if person["_hidden"]:
            continue
        rendered = public(person)
        rendered["distinct_ids"] = rendered["distinct_ids"][:10]
        results.append(rendered)
    next_url = _with_offset(ctx, offset + limit) if len(raw_page) >= limit else None
    previous = _with_offset(ctx, max(0, offset - limit)) if offset > 0 else None
    return json_response({"results": results, "next": next_url, "previous": previous})
