"""Ground truth of the HogQL-read person tables: ``persons`` and ``person_distinct_ids``.

What a correct full read of PostHog's HogQL ``persons`` table (id, created_at, properties,
is_identified: posthog/hogql/database/schema/persons.py, deleted persons excluded by its
argMax on ``is_deleted``) and ``person_distinct_ids`` (distinct_id -> current person_id:
posthog/hogql/database/schema/person_distinct_ids.py) yields, completed as the tap documents:
``distinct_ids`` identified first (PostHog's ``is_anonymous_id``, posthog/utils.py) and ``name``
by ``get_person_name_helper`` (posthog/api/person.py) with the project's display properties.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from .times import render_utc_fixed

#: posthog/utils.py ``ANONYMOUS_REGEX``.
_ANONYMOUS = re.compile(r"^([a-z0-9]+\-){4}([a-z0-9]+)$")
#: The simulator's projects' ``person_display_name_properties`` (posthog/constants.py default).
DISPLAY_NAME_PROPERTIES = ("email", "name", "username")


def _ordered(distinct_ids: list[str]) -> list[str]:
    return sorted(distinct_ids, key=lambda d: (bool(_ANONYMOUS.match(d)), d))


def _name(person: dict[str, Any], distinct_ids: list[str]) -> str:
    for key in DISPLAY_NAME_PROPERTIES:
        value = person["properties"].get(key)
        if value:
            return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return distinct_ids[0] if distinct_ids else str(person["id"])


def _to_millisecond(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def person_record(person: dict[str, Any], project_id: int) -> dict[str, Any]:
    """One visible person as the persons stream emits it."""
    distinct_ids = _ordered(list(person["distinct_ids"]))
    return {
        "id": person["id"],
        "uuid": person["id"],
        "name": _name(person, distinct_ids),
        "distinct_ids": distinct_ids,
        "properties": person["properties"],
        "is_identified": bool(person["is_identified"]),
        # ClickHouse's person.created_at is DateTime64(3) (posthog/models/person/sql.py)
        "created_at": render_utc_fixed(_to_millisecond(person["created_at"])),
        "project_id": project_id,
    }


def person_records(persons: list[dict[str, Any]], project_id: int) -> list[dict[str, Any]]:
    """Every row of HogQL ``persons`` (``Dataset.hogql_persons``), completed."""
    return [person_record(p, project_id) for p in persons]


def distinct_id_records(pairs: list[tuple[str, str]], project_id: int) -> list[dict[str, Any]]:
    """Every row of HogQL ``person_distinct_ids`` (``Dataset.hogql_person_distinct_ids``)."""
    return [{"distinct_id": d, "person_id": p, "project_id": project_id} for d, p in pairs]
