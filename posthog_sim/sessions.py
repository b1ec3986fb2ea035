"""``GET /api/projects/{id}/sessions/property_definitions/``: session properties, as PostHog.

PostHog/posthog posthog/api/session.py (``SessionViewSet.property_definitions``, scope object
``query``, ClickHouse throttles) answers ``{"count", "results"}``, unpaginated, built from the
HogQL sessions table's schema: posthog/hogql/database/schema/sessions_v3.py
(``LAZY_SESSIONS_FIELDS``, ``get_lazy_session_table_properties_v3``). The per-ad-network
``$entry_<id>`` / ``$entry_has_<id>`` fields (``SESSION_V3_LOWER_TIER_AD_IDS``) are left out.
"""

from __future__ import annotations

import re
from typing import Any

from .http_types import Response
from .render import json_response

# ``LAZY_SESSIONS_FIELDS`` of sessions v3, in order: name -> HogQL field class.
LAZY_SESSIONS_FIELDS: tuple[tuple[str, str], ...] = (
    ("team_id", "Integer"),
    ("session_id_v7", "String"),
    ("id", "String"),
    ("session_id", "String"),
    ("session_timestamp", "DateTime"),
    ("distinct_id", "String"),
    ("$start_timestamp", "DateTime"),
    ("$end_timestamp", "DateTime"),
    ("max_inserted_at", "DateTime"),
    ("$urls", "StringArray"),
    ("$num_uniq_urls", "Integer"),
    ("$entry_current_url", "String"),
    ("$entry_pathname", "String"),
    ("$entry_hostname", "String"),
    ("$end_current_url", "String"),
    ("$end_pathname", "String"),
    ("$end_hostname", "String"),
    ("$entry_referring_domain", "String"),
    ("$last_external_click_url", "String"),
    ("$exit_current_url", "String"),
    ("$exit_pathname", "String"),
    ("$entry_utm_source", "String"),
    ("$entry_utm_campaign", "String"),
    ("$entry_utm_medium", "String"),
    ("$entry_utm_term", "String"),
    ("$entry_utm_content", "String"),
    ("$entry_fbclid", "String"),
    ("$entry_gclid", "Database"),
    ("$entry_gad_source", "Database"),
    ("$entry_has_fbclid", "Boolean"),
    ("$entry_has_gclid", "Boolean"),
    ("$pageview_count", "Integer"),
    ("$autocapture_count", "Integer"),
    ("$screen_count", "Integer"),
    ("$page_screen_count_up_to", "Database"),
    ("$has_autocapture", "Boolean"),
    ("$entry_channel_type_properties", "Database"),
    ("$channel_type", "String"),
    ("$session_duration", "Integer"),
    ("duration", "Integer"),
    ("$is_bounce", "Boolean"),
    ("$has_replay_events", "Boolean"),
)

# ``hidden_fields`` of ``get_lazy_session_table_properties_v3``.
HIDDEN_FIELDS = frozenset(
    {
        "max_inserted_at",
        "team_id",
        "distinct_id",
        "session_id",
        "id",
        "session_id_v7",
        "$event_count_map",
        "$urls",
        "duration",
        "$num_uniq_urls",
        "$page_screen_autocapture_count_up_to",
        "$entry_channel_type_properties",
        "session_timestamp",
        "$exit_current_url",
        "$exit_pathname",
    }
)

# ``PropertyType`` values (posthog/models/property_definition.py) by field class.
_PROPERTY_TYPES = {
    "Integer": "Numeric",
    "Float": "Numeric",
    "DateTime": "DateTime",
    "Boolean": "Boolean",
}
_TYPE_OVERRIDES = {"$session_duration": "Duration"}


def session_property_definitions(search: str | None = None) -> list[dict[str, Any]]:
    """The rows ``get_lazy_session_table_properties_v3(search)`` returns."""
    words = re.findall(r"\w+", search.lower()) if search else None
    rows = []
    for name, kind in LAZY_SESSIONS_FIELDS:
        if name in HIDDEN_FIELDS:
            continue
        if words and not all(word in name.lower() for word in words):
            continue
        rows.append(
            {
                "id": name,
                "name": name,
                "is_numerical": kind in ("Integer", "Float"),
                "property_type": _TYPE_OVERRIDES.get(name, _PROPERTY_TYPES.get(kind, "String")),
                "is_seen_on_filtered_events": None,
                "tags": [],
            }
        )
    return rows


def list_session_property_definitions(search: str | None, is_numerical: str | None) -> Response:
    """The endpoint's body: every matching row at once, with its count."""
    rows = session_property_definitions(search)
    if is_numerical is not None:
        wanted = is_numerical.lower() == "true"
        rows = [r for r in rows if r["is_numerical"] == wanted]
    return json_response({"count": len(rows), "results": rows})
