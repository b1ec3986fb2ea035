"""Generation of the small REST tables: users, flags, cohorts, definitions, annotations."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any

from . import edge
from .event_values import EVENT_PROPERTY_KEYS, EVENT_WEIGHTS
from .ids import uuid4_like
from .people import PERSON_PROPERTY_KEYS

BUILTIN_PERSON_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("$virt_initial_channel_type", "String"),
    ("$virt_initial_referring_domain_type", "String"),
    ("$virt_revenue", "Numeric"),
)
SESSION_PROPERTY_KEYS: tuple[str, ...] = (
    "$session_duration",
    "$entry_current_url",
    "$exit_current_url",
    "$pageview_count",
    "$is_bounce",
    "$channel_type",
    "$entry_referring_domain",
)
_EXCLUDED_EVENT_PROPS = {"$set", "$set_once", "distinct_id"}


def _ago(rng: random.Random, anchor: datetime, max_days: float, min_days: float = 0.0) -> datetime:
    seconds = rng.uniform(min_days * 86_400, max_days * 86_400)
    value = anchor - timedelta(seconds=max(1.0, seconds))
    return value if rng.random() < 0.7 else value.replace(microsecond=0)


def make_users(rng: random.Random) -> list[dict[str, Any]]:
    """UserBasic objects used for created_by / updated_by."""
    names = (("Jane", "Doe"), ("Ömer", "Şahin"), ("Li", "Wei"))
    return [
        {
            "id": i + 1,
            "uuid": uuid4_like(rng),
            "distinct_id": uuid4_like(rng),
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}@example.com",
            "is_email_verified": True,
            "hedgehog_config": None,
            "role_at_organization": "engineering",
        }
        for i, (first, last) in enumerate(names)
    ]


def make_flags(
    rng: random.Random, n: int, anchor: datetime, users: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Feature flags (ids ascend with created_at); some archived, some deleted."""
    created = sorted(_ago(rng, anchor, 400, 1) for _ in range(n))
    flags = []
    for i, when in enumerate(created):
        fate = rng.random()
        deleted, archived = fate < 0.1, 0.1 <= fate < 0.25
        active = not archived and not deleted and rng.random() < 0.8
        updated = None if rng.random() < 0.05 else min(anchor, _ago(rng, anchor, 30))
        if updated is not None and updated < when:
            updated = when
        status = "deleted" if deleted else "archived" if archived else "active"
        filters = _flag_filters(rng)
        if edge.picked(i):  # payloads are JSON text in PostHog
            filters["payloads"] = {"true": json.dumps(edge.properties(i), ensure_ascii=False)}
        flags.append(
            {
                "id": 100 + i,
                "name": "" if i % 7 == 3 else f"Flag number {i}",  # name is optional (blank)
                "key": f"flag-{i}",
                "filters": filters,
                "deleted": deleted,
                "active": active,
                "archived": archived,
                "created_by": rng.choice(users),
                "created_at": when,
                "updated_at": updated,
                "version": rng.randrange(1, 6),
                "last_modified_by": None,
                "ensure_experience_continuity": False,
                "experiment_set": [],
                "experiment_set_metadata": [],
                "surveys": [],
                "features": [],
                "rollback_conditions": None,
                "performed_rollback": None,
                "can_edit": True,
                "tags": ["beta"] if i % 5 == 0 else [],
                "evaluation_contexts": [],
                "usage_dashboard": None,
                "analytics_dashboards": [],
                "has_enriched_analytics": False,
                "user_access_level": "editor",
                "is_remote_configuration": False,
                "has_encrypted_payloads": False,
                "status": status,
                "evaluation_runtime": "all",
                "bucketing_identifier": None,
                "last_called_at": None,
                "is_used_in_replay_settings": False,
            }
        )
    return flags


def _flag_filters(rng: random.Random) -> dict[str, Any]:
    groups = [
        {"properties": [], "rollout_percentage": rng.choice((0, 10, 50, 100)), "variant": None}
    ]
    multivariate = None
    if rng.random() < 0.3:
        multivariate = {
            "variants": [
                {"key": "control", "rollout_percentage": 50},
                {"key": "test", "rollout_percentage": 50},
            ]
        }
    return {"groups": groups, "multivariate": multivariate, "payloads": {}}


def touch_flag(rng: random.Random, flag: dict[str, Any], now: datetime) -> None:
    """Change a flag's filters and bump updated_at/version (what an edit does)."""
    flag["filters"] = _flag_filters(rng)
    flag["filters"]["groups"][0]["rollout_percentage"] = rng.randrange(1, 100)
    flag["updated_at"] = now
    flag["version"] = int(flag["version"]) + 1


def make_cohorts(
    rng: random.Random, n: int, anchor: datetime, users: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Cohorts; some deleted, some never calculated (``last_calculation`` null)."""
    created = sorted(_ago(rng, anchor, 300, 1) for _ in range(n))
    cohorts = []
    for i, when in enumerate(created):
        static = rng.random() < 0.25
        calculated = not static and rng.random() < 0.8
        cohorts.append(
            {
                "id": 10 + i,
                "name": f"Cohort {i}",
                "description": edge.text(i) if edge.picked(i) else "",
                "groups": [],
                "deleted": rng.random() < 0.15,
                "filters": {
                    "properties": {
                        "type": "OR",
                        "values": [
                            {
                                "type": "AND",
                                "values": [
                                    {
                                        "key": "plan",
                                        "type": "person",
                                        "value": ["pro", "", edge.UNICODE]
                                        if edge.picked(i, 3)
                                        else ["pro"],
                                        "operator": "exact",
                                        "negation": False,
                                    }
                                ],
                            }
                        ],
                    }
                },
                "query": None,
                "is_calculating": False,
                "created_by": rng.choice(users),
                "created_at": when,
                "last_calculation": _ago(rng, anchor, 2) if calculated else None,
                "errors_calculating": 0,
                "count": rng.randrange(0, 5000) if calculated else None,
                "is_static": static,
                "cohort_type": "static" if static else "person_property",
                "experiment_set": [],
            }
        )
    return cohorts


def make_event_definitions(
    rng: random.Random, n: int, anchor: datetime, users: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Event definitions: the generated event names first, then custom ones."""
    names = [name for name, _ in EVENT_WEIGHTS][:n]
    names += [f"custom_event_{k:03d}" for k in range(n - len(names))]
    rows = []
    for i, name in enumerate(names):
        created = None if rng.random() < 0.05 else _ago(rng, anchor, 400, 30)
        seen = i < len(EVENT_WEIGHTS) or rng.random() < 0.85
        rows.append(
            {
                "id": uuid4_like(rng),
                "name": name,
                "owner": None,
                "description": ("" if i % 2 else edge.text(i)) if edge.picked(name) else None,
                "tags": [],
                "created_at": created,
                "updated_at": _ago(rng, anchor, 60),
                "updated_by": None,
                "last_seen_at": _ago(rng, anchor, 20) if seen else None,
                "last_updated_at": _ago(rng, anchor, 60) if rng.random() < 0.5 else None,
                "verified": False,
                "verified_at": None,
                "verified_by": None,
                "hidden": False,
                "is_action": False,
                "action_id": None,
                "is_calculating": False,
                "last_calculated_at": None,
                "created_by": rng.choice(users) if created else None,
                "post_to_slack": False,
                "default_columns": [],
            }
        )
    return rows


def make_property_definitions(
    rng: random.Random, kind: str, n: int, anchor: datetime
) -> list[dict[str, Any]]:
    """Stored property definitions of one type (``event``, ``person`` or ``session``)."""
    known = {
        "event": [k for k in EVENT_PROPERTY_KEYS if k not in _EXCLUDED_EVENT_PROPS],
        "person": list(PERSON_PROPERTY_KEYS),
        "session": list(SESSION_PROPERTY_KEYS),
    }[kind]
    names = known[:n] + [f"{kind}_prop_{k:03d}" for k in range(n - len(known[:n]))]
    rows = []
    for name in names:
        numeric = name in {"amount", "signup_count", "$session_duration", "$pageview_count"}
        verified = rng.random() < 0.1
        rows.append(
            {
                "id": uuid4_like(rng),
                "name": name,
                "description": edge.text(len(rows)) if edge.picked(name) else None,
                "tags": [],
                "is_numerical": numeric,
                "updated_at": _ago(rng, anchor, 90),
                "updated_by": None,
                "is_seen_on_filtered_events": None,
                "property_type": "Numeric" if numeric else rng.choice(("String", "String", None)),
                "verified": verified,
                "verified_at": _ago(rng, anchor, 90) if verified else None,
                "verified_by": None,
                "hidden": False,
            }
        )
    return rows


def builtin_person_properties() -> list[dict[str, Any]]:
    """PostHog's virtual person properties appended to the last person-definitions page."""
    return [
        {
            "id": f"$builtin_{key}",
            "name": key,
            "is_numerical": ptype == "Numeric",
            "property_type": ptype,
            "tags": [],
            "virtual": True,
        }
        for key, ptype in BUILTIN_PERSON_PROPERTIES
    ]


def make_annotations(
    rng: random.Random,
    n: int,
    anchor: datetime,
    users: list[dict[str, Any]],
    first_id: int,
    org_share: float,
) -> list[dict[str, Any]]:
    """Annotations of one project; some deleted, ``org_share`` of them organization-scoped."""
    rows = []
    for i in range(n):
        created = _ago(rng, anchor, 120, 1)
        scope = (
            "organization"
            if rng.random() < org_share
            else rng.choice(("project", "project", "dashboard_item"))
        )
        rows.append(
            {
                "id": first_id + i,
                "content": f"Release 2.{i}.0 ✨"
                if i % 4 == 0
                else edge.text(i)
                if i % 4 == 1
                else ""
                if i % 9 == 6
                else f"Note {i}",
                "date_marker": created + timedelta(minutes=rng.randrange(0, 600)),
                "creation_type": rng.choice(("USR", "GIT")),
                "dashboard_item": 500 + i if scope == "dashboard_item" else None,
                "dashboard_id": None,
                "dashboard_name": None,
                "insight_short_id": f"ab{i:04d}" if scope == "dashboard_item" else None,
                "insight_name": None,
                "insight_derived_name": None,
                "created_by": rng.choice(users),
                "created_at": created,
                "updated_at": created + timedelta(seconds=rng.randrange(0, 9999)),
                "deleted": rng.random() < 0.1,
                "scope": scope,
                "emoji": None,
                "hidden_in_user_interface": None,
                "tags": [],
            }
        )
    return rows
