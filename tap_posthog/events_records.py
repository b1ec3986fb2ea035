"""Events records from Query API pages: final (schema) types, built one row at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from tap_posthog.timeutil import hogql_utc_text

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_json_decode = msgspec.json.Decoder().decode


class QueryBody(msgspec.Struct):
    """A Query API response with each row left undecoded (a reference into the body)."""

    columns: list[str] | None = None
    results: list[msgspec.Raw] | None = None


decode_query_body = msgspec.json.Decoder(QueryBody).decode


def record_builder(columns: list[str], project_id: int) -> Callable[[Any], dict[str, Any]]:
    """A function turning one raw result row (columns as named) into an events record.

    A ``person_properties`` column (selected with ``events_person_properties``) adds the
    record's ``person_properties``; without the column the record has no such key.
    """
    index = {name: i for i, name in enumerate(columns)}
    i_uuid, i_event, i_distinct = index["uuid"], index["event"], index["distinct_id"]
    i_props, i_ts, i_created = index["properties"], index["timestamp"], index["created_at"]
    i_chain, i_person = index["elements_chain"], index["person_id"]
    i_session = index.get("$session_id")
    i_person_props = index.get("person_properties")

    def build(raw: msgspec.Raw) -> dict[str, Any]:
        row = _json_decode(raw)
        props = row[i_props]
        if isinstance(props, str):
            props = _json_decode(props) if props else {}
        person = row[i_person]
        created = row[i_created]
        record = {
            "id": str(row[i_uuid]),
            "event": row[i_event],
            "distinct_id": row[i_distinct],
            "timestamp": hogql_utc_text(row[i_ts]),
            "created_at": hogql_utc_text(created) if created else None,
            "properties": props,
            "elements_chain": row[i_chain],
            "person_id": str(person) if person is not None else None,
            "session_id": row[i_session] if i_session is not None else None,
            "project_id": project_id,
        }
        if i_person_props is not None:
            # A JSON text; '' (events stored before persons on events) has no properties.
            text = row[i_person_props]
            record["person_properties"] = _json_decode(text) if text else None
        return record

    return build


class PageRecords:
    """One page's records, built as they are iterated; each row is released once built.

    A page thus holds its decoded rows, never rows and records at once, and is gone by the
    time the next page arrives. After iteration it still knows its last record (the keyset
    cursor) and the timestamps of its first record and of the one three quarters in (for
    window sizing).
    """

    def __init__(self, body: QueryBody, project_id: int) -> None:
        """Wrap a decoded response body; ``extracted_at`` is when it arrived."""
        self.extracted_at = datetime.now(UTC)
        self._rows: list[Any] = body.results or []
        self._build = record_builder(body.columns or [], project_id) if self._rows else None
        self._last: dict[str, Any] | None = None
        self._first: str | None = None
        self._tail: str | None = None

    def __len__(self) -> int:
        """Rows on the page."""
        return len(self._rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Build and yield each record once."""
        rows, build = self._rows, self._build
        if build is None:
            return
        tail = (3 * len(rows)) // 4
        for i, row in enumerate(rows):
            rows[i] = None
            self._last = record = build(row)
            if i == 0:
                self._first = record["timestamp"]
            if i == tail:
                self._tail = record["timestamp"]
            yield record

    def last_key(self) -> tuple[str, str]:
        """``(timestamp, id)`` of the last record (the page must have been iterated)."""
        if self._last is None:
            msg = "the page was not read yet"
            raise RuntimeError(msg)
        return self._last["timestamp"], self._last["id"]

    def first_timestamp(self) -> str | None:
        """Timestamp of the first record."""
        return self._first

    def tail_timestamp(self) -> str | None:
        """Timestamp of the record three quarters into the page."""
        return self._tail
