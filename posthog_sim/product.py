"""Generation of the product tables: insights, dashboards, actions, experiments and surveys.

Each record carries every field of the PostHog serializer the list endpoint uses (named per
function); fields prefixed ``_`` are internal (hidden from the API, used for filters).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from .ids import uuid4_like

_DASHBOARD_MODES = ("default", "default", "template", "duplicate", "unlisted")


def _ago(rng: random.Random, anchor: datetime, max_days: float, min_days: float = 0.0) -> datetime:
    seconds = rng.uniform(min_days * 86_400, max_days * 86_400)
    value = anchor - timedelta(seconds=max(1.0, seconds))
    return value if rng.random() < 0.7 else value.replace(microsecond=0)


def _short_id(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                   for _ in range(8))  # fmt: skip


def _trends_query(event: str) -> dict[str, Any]:
    return {
        "kind": "InsightVizNode",
        "source": {
            "kind": "TrendsQuery",
            "series": [{"kind": "EventsNode", "event": event, "math": "total"}],
            "interval": "day",
            "dateRange": {"date_from": "-7d"},
        },
    }


def make_insights(
    rng: random.Random,
    n: int,
    anchor: datetime,
    users: list[dict[str, Any]],
    dashboard_ids: list[int],
) -> list[dict[str, Any]]:
    """Insights with the fields of ``InsightSerializer``; some soft-deleted.

    ``InsightBasicSerializer`` (``basic=true``) is a subset, see :data:`INSIGHT_BASIC_FIELDS`
    (products/product_analytics/backend/api/insight.py).
    """
    rows = []
    for i in range(n):
        created = _ago(rng, anchor, 200, 2)
        modified = min(anchor, created + timedelta(seconds=rng.uniform(0, 90 * 86_400)))
        on = sorted(rng.sample(dashboard_ids, k=min(len(dashboard_ids), rng.randrange(0, 3))))
        event = rng.choice(("$pageview", "signed_up", "purchase", "$autocapture"))
        rows.append(
            {
                "id": 5000 + i,
                "short_id": _short_id(rng),
                "name": f"Insight {i} · {event}" if rng.random() < 0.8 else None,
                "derived_name": f"{event} count",
                "filters": {},
                "query": _trends_query(event),
                "order": rng.choice((None, None, 0, 1, 2)),
                "deleted": rng.random() < 0.12,
                "dashboards": on,
                "dashboard_tiles": [
                    {"id": 9000 + i * 3 + k, "dashboard_id": d, "deleted": False}
                    for k, d in enumerate(on)
                ],
                "last_refresh": _ago(rng, anchor, 3) if rng.random() < 0.6 else None,
                "cache_target_age": None,
                "next_allowed_client_refresh": None,
                "result": None,
                "hasMore": None,
                "columns": None,
                "refreshing": False,
                "created_at": created,
                "created_by": rng.choice(users),
                "description": "" if rng.random() < 0.7 else "Weekly numbers",
                "updated_at": modified,
                "tags": ["core"] if i % 4 == 0 else [],
                "favorited": rng.random() < 0.2,
                "saved": rng.random() < 0.9,
                "last_modified_at": modified,
                "last_modified_by": rng.choice(users),
                "is_sample": False,
                "effective_restriction_level": 21,
                "effective_privilege_level": 37,
                "user_access_level": "editor",
                "timezone": "UTC",
                "is_cached": False,
                "query_status": None,
                "hogql": None,
                "types": None,
                "resolved_date_range": None,
                "alerts": [],
                "last_viewed_at": _ago(rng, anchor, 10) if rng.random() < 0.5 else None,
            }
        )
    return rows


#: ``InsightBasicSerializer.Meta.fields`` (products/product_analytics/backend/api/insight.py).
INSIGHT_BASIC_FIELDS = (
    "id", "short_id", "name", "derived_name", "filters", "query", "dashboards",
    "dashboard_tiles", "description", "last_refresh", "refreshing", "saved", "tags",
    "updated_at", "created_by", "created_at", "last_modified_at", "favorited",
    "user_access_level", "last_viewed_at",
)  # fmt: skip


def touch_insight(insight: dict[str, Any], now: datetime, name: str) -> None:
    """Rename an insight: a material field, so ``last_modified_at`` moves (``update``)."""
    insight["name"] = name
    insight["last_modified_at"] = now
    insight["updated_at"] = now


def make_dashboards(
    rng: random.Random, n: int, anchor: datetime, users: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Dashboards with ``DashboardBasicSerializer`` fields (posthog/api/dashboards/dashboard.py)."""
    rows = []
    for i in range(n):
        rows.append(
            {
                "id": 300 + i,
                "name": rng.choice(("Growth", "Product KPIs", "Ops", "Marketing", "Ops")) + f" {i}",
                "description": "",
                "pinned": rng.random() < 0.25,
                "created_at": _ago(rng, anchor, 300, 5),
                "created_by": rng.choice(users),
                "last_accessed_at": _ago(rng, anchor, 20) if rng.random() < 0.7 else None,
                "last_viewed_at": None,
                "folder": None,
                "is_shared": rng.random() < 0.1,
                "deleted": rng.random() < 0.1,
                "creation_mode": rng.choice(_DASHBOARD_MODES),
                "tags": [],
                "restriction_level": 21,
                "effective_restriction_level": 21,
                "effective_privilege_level": 37,
                "user_access_level": "editor",
                "access_control_version": "v2",
                "last_refresh": _ago(rng, anchor, 2) if rng.random() < 0.5 else None,
                "team_id": None,  # filled with the project id by the dataset
                "search_match_type": None,
            }
        )
    return rows


def make_actions(
    rng: random.Random, n: int, anchor: datetime, users: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Actions with ``ActionSerializer`` fields (products/actions/backend/api/action.py)."""
    rows = []
    for i in range(n):
        calculated = _ago(rng, anchor, 30) if rng.random() < 0.6 else None
        rows.append(
            {
                "id": 700 + i,
                "name": f"Action {i:03d}" if i % 7 else f"Signed up ({i})",
                "description": "",
                "tags": [],
                "post_to_slack": False,
                "slack_message_format": "",
                "steps": [
                    {
                        "event": rng.choice(("$pageview", "$autocapture", "signed_up")),
                        "properties": [],
                        "selector": None,
                        "selector_regex": None,
                        "tag_name": None,
                        "text": None,
                        "text_matching": None,
                        "href": None,
                        "href_matching": None,
                        "url": "/pricing" if rng.random() < 0.5 else None,
                        "url_matching": "contains",
                    }
                ],
                "created_at": _ago(rng, anchor, 300, 3),
                "created_by": rng.choice(users),
                "deleted": rng.random() < 0.1,
                "is_calculating": False,
                "last_calculated_at": calculated,
                "team_id": None,
                "is_action": True,
                "bytecode_error": None,
                "pinned_at": _ago(rng, anchor, 50) if rng.random() < 0.1 else None,
                "creation_context": None,
                "user_access_level": "editor",
            }
        )
    return rows


def make_experiments(
    rng: random.Random,
    n: int,
    anchor: datetime,
    users: list[dict[str, Any]],
    flags: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Experiments with ``ExperimentSerializer`` fields; some archived, some deleted.

    products/experiments/backend/presentation/serializers.py.
    """
    rows = []
    for i in range(n):
        created = _ago(rng, anchor, 200, 3)
        started = created + timedelta(days=1) if rng.random() < 0.7 else None
        ended = started + timedelta(days=14) if started and rng.random() < 0.4 else None
        status = "draft" if started is None else ("stopped" if ended else "running")
        flag = flags[i % len(flags)] if flags else None
        fate = rng.random()
        rows.append(
            {
                "id": 40 + i,
                "name": f"Experiment {i}",
                "description": "",
                "start_date": started,
                "end_date": ended,
                "feature_flag_key": f"exp-{i}",
                "feature_flag": (
                    {"id": flag["id"], "key": flag["key"], "name": flag["name"]} if flag else None
                ),
                "holdout": None,
                "holdout_id": None,
                "exposure_cohort": None,
                "parameters": {
                    "feature_flag_variants": [
                        {"key": "control", "rollout_percentage": 50, "split_percent": 50},
                        {"key": "test", "rollout_percentage": 50, "split_percent": 50},
                    ]
                },
                "secondary_metrics": [],
                "saved_metrics": [],
                "saved_metrics_ids": None,
                "filters": {},
                "archived": 0.1 <= fate < 0.35,
                "deleted": fate < 0.1,
                "created_by": rng.choice(users),
                "created_at": created,
                "updated_at": min(anchor, created + timedelta(days=rng.uniform(0, 30))),
                "type": rng.choice(("product", "web")),
                "exposure_criteria": None,
                "metrics": [],
                "metrics_secondary": [],
                "stats_config": None,
                "scheduling_config": None,
                "conclusion": "won" if ended and rng.random() < 0.5 else None,
                "conclusion_comment": None,
                "primary_metrics_ordered_uuids": None,
                "secondary_metrics_ordered_uuids": None,
                "only_count_matured_users": False,
                "status": status,
                "user_access_level": "editor",
            }
        )
    return rows


def make_surveys(
    rng: random.Random, n: int, anchor: datetime, users: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Surveys with ``SurveySerializer`` fields; UUID ids; some product-tour internal surveys.

    products/surveys/backend/api/survey.py. ``_product_tour`` rows are what the list excludes.
    """
    rows = []
    for i in range(n):
        created = _ago(rng, anchor, 150, 1)
        tour = rng.random() < 0.1
        rows.append(
            {
                "id": uuid4_like(rng),
                "name": f"Survey {i}",
                "description": "",
                "type": rng.choice(("popover", "api", "widget", "external_survey")),
                "schedule": "once",
                "linked_flag": None,
                "linked_flag_id": None,
                "linked_insight_id": None,
                "targeting_flag": None,
                "internal_targeting_flag": None,
                "questions": [
                    {"id": uuid4_like(rng), "type": "open", "question": "What could be better?"}
                ],
                "conditions": None,
                "appearance": {"backgroundColor": "#eeeded"},
                "created_at": created,
                "created_by": rng.choice(users),
                "start_date": created + timedelta(hours=2) if rng.random() < 0.7 else None,
                "end_date": None,
                "archived": rng.random() < 0.2,
                "responses_limit": None,
                "feature_flag_keys": [],
                "iteration_count": None,
                "iteration_frequency_days": None,
                "iteration_start_dates": [],
                "current_iteration": None,
                "current_iteration_start_date": None,
                "response_sampling_start_date": None,
                "response_sampling_interval_type": None,
                "response_sampling_interval": None,
                "response_sampling_limit": None,
                "response_sampling_daily_limits": None,
                "enable_partial_responses": False,
                "user_access_level": "editor",
                "_product_tour": tour,
            }
        )
    return rows
