"""HogQL text and placeholder values for reading events in keyset order.

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
MAX_LIMIT = 50_000


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

    def query(self) -> dict[str, Any]:
        """Return the ``query`` object of a Query API request."""
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
        text = (
            f"SELECT {EVENT_COLUMNS}\nFROM events\nWHERE "
            + "\n  AND ".join(where)
            + f"\nORDER BY timestamp ASC, uuid ASC\nLIMIT {limit}"
        )
        return {"kind": "HogQLQuery", "query": text, "values": values}


FIRST_EVENT_QUERY: dict[str, Any] = {
    "kind": "HogQLQuery",
    "query": "SELECT min(timestamp) FROM events",
}


def request_body(query: dict[str, Any]) -> dict[str, Any]:
    """Wrap a query for ``POST /api/projects/{id}/query/`` (always fresh, never cached)."""
    return {"query": query, "refresh": "force_blocking", "name": "tap-posthog events"}
