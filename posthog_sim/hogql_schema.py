"""The HogQL tables the simulator serves and the type of each field (what the printer needs)."""

from __future__ import annotations

# Field kinds: "datetime" fields are printed through toTimeZone(<field>, <project tz>);
# "json" fields allow property access (``properties.$browser``).
EVENTS = {
    "uuid": "uuid",
    "event": "string",
    "properties": "json",
    "timestamp": "datetime",
    "distinct_id": "string",
    "elements_chain": "string",
    "created_at": "datetime",
    "person_id": "uuid",
    "$session_id": "string",
}
# Virtual sub-tables: HogQL field -> {sub-field: (ClickHouse column, kind)}. In persons-on-events
# mode, the default for current teams (posthog/models/team/team.py
# ``person_on_events_mode_flag_based_default``; posthog/hogql/database/database.py
# ``_use_person_properties_from_events``), ``events.person`` is ``FieldTraverser(chain=["poe"])``
# and ``poe`` is ``EventsPersonSubTable`` (posthog/hogql/database/schema/events.py): ``id`` is
# the column ``person_id``, ``properties`` the column ``person_properties``
# (StringJSONDatabaseField), both on the events row itself, no join.
SUBTABLES: dict[str, dict[str, dict[str, tuple[str, str]]]] = {
    "events": {
        "person": {"id": ("person_id", "uuid"), "properties": ("person_properties", "json")},
    },
}
PERSONS = {
    "id": "uuid",
    "created_at": "datetime",
    "properties": "json",
    "is_identified": "bool",
}
PERSON_DISTINCT_IDS = {"distinct_id": "string", "person_id": "uuid"}
SESSIONS = {
    "session_id": "string",
    "id": "string",
    "distinct_id": "string",
    "person_id": "uuid",
    "session_timestamp": "datetime",
    "$start_timestamp": "datetime",
    "$end_timestamp": "datetime",
    "max_inserted_at": "datetime",
    "$urls": "array",
    "$num_uniq_urls": "int",
    "$entry_current_url": "string",
    "$entry_pathname": "string",
    "$entry_hostname": "string",
    "$end_current_url": "string",
    "$end_pathname": "string",
    "$end_hostname": "string",
    "$exit_current_url": "string",
    "$exit_pathname": "string",
    "$entry_referring_domain": "string",
    "$entry_utm_source": "string",
    "$entry_utm_campaign": "string",
    "$entry_utm_medium": "string",
    "$entry_utm_term": "string",
    "$entry_utm_content": "string",
    "$pageview_count": "int",
    "$autocapture_count": "int",
    "$screen_count": "int",
    "$session_duration": "int",
    "duration": "int",
    "$is_bounce": "bool",
    "$channel_type": "string",
}
TABLES: dict[str, dict[str, str]] = {
    "events": EVENTS,
    "persons": PERSONS,
    "person_distinct_ids": PERSON_DISTINCT_IDS,
    "sessions": SESSIONS,
}
# What ``SELECT *`` expands to (PostHog expands to the table's non-hidden database fields).
STAR: dict[str, tuple[str, ...]] = {
    "events": (
        "uuid",
        "event",
        "properties",
        "timestamp",
        "distinct_id",
        "elements_chain",
        "created_at",
        "$session_id",
        "person_id",
    ),
    "persons": ("id", "created_at", "properties", "is_identified"),
    "person_distinct_ids": ("distinct_id", "person_id"),
    "sessions": tuple(SESSIONS),
}


def resolve_field(chain: list[str], table: str) -> tuple[str, str, list[str]] | None:
    """A field chain as ``(ClickHouse column, kind, property keys after it)``.

    ``person.properties.$browser`` on events resolves to the events row's own
    ``person_properties`` column (persons on events, see ``hogql_schema.SUBTABLES``).

    None when the chain names no field of the table.
    """
    fields = TABLES[table]
    if chain and chain[0] in fields:
        return chain[0], fields[chain[0]], chain[1:]
    sub = SUBTABLES.get(table, {}).get(chain[0]) if chain else None
    if sub is not None and len(chain) > 1 and chain[1] in sub:
        column, kind = sub[chain[1]]
        return column, kind, chain[2:]
    return None
