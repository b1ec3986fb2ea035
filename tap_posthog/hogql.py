"""HogQL text and placeholder values for reading events in keyset order, and overload errors.

Every value travels through the query's ``values`` (PostHog fills ``{name}`` placeholders
safely); only the integer row limit is part of the text. The server compares
``(timestamp, uuid)`` tuples itself: ClickHouse orders UUIDs its own way (second half
first), so the client never compares or sorts uuids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EVENT_COLUMNS = (
    "uuid, event, distinct_id, properties, timestamp, created_at, elements_chain, "
    "person_id, `$session_id`"
)
#: With ``events_person_properties``: the person's properties at ingestion. In PostHog's
#: persons-on-events modes this reads the events row's own ``person_properties`` column; in
#: the ``person_id_override_properties_joined`` mode (and with persons on events disabled)
#: PostHog joins the persons table (posthog/hogql/database/database.py), hence the setting.
PERSON_PROPERTIES_COLUMN = "person.properties AS person_properties"
MAX_LIMIT = 50_000

#: Modifiers of every query the tap sends. PostHog wraps each datetime field in
#: ``toTimeZone(field, <project tz>)`` unless ``convertToProjectTimezone`` is false
#: (posthog/hogql/transforms/property_types.py ``PropertySwapper``), and through that wrapper
#: ClickHouse cannot use the events sort key ``toDate(timestamp)``: a page would read its
#: whole month. The tap compares and emits UTC anyway, so nothing else changes.
QUERY_MODIFIERS: dict[str, Any] = {"convertToProjectTimezone": False}


def hogql_query(text: str, values: dict[str, Any]) -> dict[str, Any]:
    """The ``query`` object of a Query API request: HogQL text, its values, the modifiers."""
    return {"kind": "HogQLQuery", "query": text, "values": values, "modifiers": QUERY_MODIFIERS}


@dataclass(frozen=True)
class EventsPage:
    """One keyset page request: a timestamp window, optional late-event filter and cursor."""

    lo: str
    hi: str
    limit: int
    fresh_from: str | None = None
    ingested_from: str | None = None
    after_ts: str | None = None
    after_uuid: str | None = None
    person_properties: bool = False

    def query(self) -> dict[str, Any]:
        """Return the ``query`` object of a Query API request."""
        # ``timestamp >= lo`` is the cursor's timestamp on every page after the first of a
        # window: ClickHouse prunes the days before it (the sort key starts with toDate).
        where = [
            "timestamp >= toDateTime({lo}, 'UTC')",
            "timestamp < toDateTime({hi}, 'UTC')",
        ]
        values: dict[str, Any] = {"lo": self.lo, "hi": self.hi}
        if self.ingested_from is not None:
            # Already-read part of the window: only what was ingested since the last run.
            where.append(
                "(timestamp >= toDateTime({fresh_from}, 'UTC') "
                "OR created_at >= toDateTime({ingested_from}, 'UTC'))"
            )
            values["fresh_from"] = self.fresh_from or self.lo
            values["ingested_from"] = self.ingested_from
        if self.after_ts is not None:
            where.append(
                "(timestamp, uuid) > (toDateTime({after_ts}, 'UTC'), toUUID({after_uuid}))"
            )
            values["after_ts"] = self.after_ts
            values["after_uuid"] = self.after_uuid
        limit = max(1, min(int(self.limit), MAX_LIMIT))
        columns = EVENT_COLUMNS
        if self.person_properties:
            columns += ", " + PERSON_PROPERTIES_COLUMN
        text = (
            f"SELECT {columns}\nFROM events\nWHERE "
            + "\n  AND ".join(where)
            + f"\nORDER BY timestamp ASC, uuid ASC\nLIMIT {limit}"
        )
        return hogql_query(text, values)


#: Statuses PostHog's query endpoint uses for a query too expensive to finish (PostHog's
#: posthog/exceptions.py): 504 ``ClickHouseQueryTimeOut`` ("max execution time", or the
#: rewritten "time limit" text), 512 estimated execution time too long, 513
#: ``ClickHouseQueryMemoryLimitExceeded`` (512 or 504 in older versions).
OVERLOAD_STATUSES = frozenset({504, 512, 513})


def is_overload(status: int, content_type: str, text: str) -> bool:
    """True for PostHog's own answer that a query was too expensive, whatever its wording.

    PostHog answers in JSON (drf-exceptions-hog: ``{"type": "server_error", ...}``); a
    gateway's 504 is an HTML page and is retried like any other 5xx.
    """
    if status not in OVERLOAD_STATUSES:
        return False
    return "json" in content_type.lower() or text.lstrip().startswith("{")


def request_body(query: dict[str, Any]) -> dict[str, Any]:
    """Wrap a query for ``POST /api/projects/{id}/query/`` (always fresh, never cached)."""
    return {"query": query, "refresh": "force_blocking", "name": "tap-posthog events"}
