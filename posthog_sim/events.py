"""The events table: vectorised generation straight into DuckDB, inserts and ground truth."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from .times import render_utc_fixed

# Event names with their share (percent) of generated events.
EVENT_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("$pageview", 38),
    ("$autocapture", 15),
    ("$pageleave", 10),
    ("$identify", 4),
    ("$feature_flag_called", 6),
    ("$exception", 4),
    ("signed_up", 5),
    ("purchase", 5),
    ("checkout started", 6),
    ("$web_vitals", 5),
    ("événement_spécial", 2),
)
# Property keys that generated events carry.
EVENT_PROPERTY_KEYS: tuple[str, ...] = (
    "$browser",
    "$os",
    "$current_url",
    "$lib",
    "$session_id",
    "amount",
    "currency",
    "plan",
    "$feature_flag",
    "$feature_flag_response",
    "$exception_message",
    "$set",
)
QUERY_COLUMNS: tuple[str, ...] = (
    "uuid",
    "event",
    "distinct_id",
    "properties",
    "timestamp",
    "created_at",
    "elements_chain",
    "person_id",
    "$session_id",
)

_DDL = """
CREATE TABLE events (
    uuid VARCHAR, event VARCHAR, distinct_id VARCHAR, properties VARCHAR,
    "timestamp" TIMESTAMP, created_at TIMESTAMP, elements_chain VARCHAR,
    person_id VARCHAR, "$session_id" VARCHAR, _uuid_key VARCHAR, _idx BIGINT
);
CREATE TABLE _ties (lo BIGINT, hi BIGINT, ts_us BIGINT);
CREATE MACRO ch_uuid_key(u) AS
    substr(replace(lower(u), '-', ''), 17, 16) || substr(replace(lower(u), '-', ''), 1, 16);
"""

_MASK62 = "4611686018427387903::UBIGINT"
_BIT63 = "9223372036854775808::UBIGINT"


def _uuid7_hex(ms: str, rand_a: str, rand_b: str) -> str:
    return f"printf('%012x7%03x%016x', {ms}, {rand_a}, ({rand_b} & {_MASK62}) | {_BIT63})"


def _dashed(col: str) -> str:
    return (
        f"substr({col},1,8)||'-'||substr({col},9,4)||'-'||substr({col},13,4)||'-'"
        f"||substr({col},17,4)||'-'||substr({col},21,12)"
    )


def _event_case(col: str) -> str:
    parts, acc = [], 0
    for name, weight in EVENT_WEIGHTS:
        acc += weight
        parts.append(f"WHEN {col} < {acc} THEN '{name}'")
    return "CASE " + " ".join(parts) + f" ELSE '{EVENT_WEIGHTS[0][0]}' END"


_PROPS = """
'{"$browser":' || to_json(['Chrome','Firefox','Safari','Edge','Opera'][(h3 % 5)::INT + 1])
|| ',"$os":' || to_json(['Mac OS X','Windows','Linux','iOS','Android'][(h4 % 5)::INT + 1])
|| ',"$current_url":' || to_json('https://example.com/p/' || (h5 % 60)::VARCHAR)
|| ',"$lib":"web"'
|| CASE WHEN sid IS NULL THEN '' ELSE ',"$session_id":' || to_json(sid) END
|| CASE event
     WHEN 'purchase' THEN ',"amount":' || ((h6 % 100000)::DECIMAL(12, 2) / 100)::VARCHAR
        || ',"currency":"EUR"'
     WHEN 'signed_up' THEN ',"plan":' || to_json(['free','pro','enterprise'][(h6 % 3)::INT + 1])
     WHEN '$feature_flag_called' THEN ',"$feature_flag":"flag-' || (h6 % 40)::VARCHAR
        || '","$feature_flag_response":' || CASE WHEN h6 % 2 = 0 THEN 'true' ELSE 'false' END
     WHEN '$exception' THEN ',"$exception_message":'
        || to_json('TypeError: "x" is undefined' || chr(10) || '  at ünïcode.js:'
                   || (h6 % 99)::VARCHAR)
     WHEN '$identify' THEN ',"$set":{"email":' || to_json(distinct_id || '@example.com') || '}'
     ELSE '' END
|| '}'
"""

_INSERT = """
INSERT INTO events
WITH hashed AS (
    SELECT i, i // 4 AS cl, tie.ts_us AS tie_us,
           hash(i // 4, {seed}, 11) AS hc, hash(i // 4, {seed}, 12) AS hg,
           hash(i, {seed}, 13) AS h1, hash(i, {seed}, 14) AS h2,
           hash(i, {seed}, 3) AS h3, hash(i // 4, {seed}, 4) AS h4, hash(i, {seed}, 5) AS h5,
           hash(i, {seed}, 6) AS h6, hash(i, {seed}, 16) AS hev
    FROM range({i0}, {i1}) t(i) LEFT JOIN _ties tie ON t.i >= tie.lo AND t.i < tie.hi
), timed AS (
    SELECT *, {ts_expr} AS ts_us FROM hashed
), shaped AS (
    SELECT b.*, p.person_id, p.distinct_id, {event_case} AS event,
           {created_expr} AS created_us,
           CASE WHEN hash(cl, {seed}, 19) % 100 < 12 THEN NULL ELSE {sid_hex} END AS sid_hex,
           {uuid_hex} AS uuid_hex
    FROM timed b JOIN _pmap p ON p.pidx = (hash(b.cl, {seed}, 15) % {npmap})::BIGINT
), final AS (
    SELECT *, {uuid} AS uuid, {sid} AS sid FROM shaped
)
SELECT uuid, event, distinct_id, {props} AS properties, make_timestamp(ts_us),
       make_timestamp(created_us),
       CASE WHEN event = '$autocapture' THEN 'button.btn.btn-primary:attr__class="btn btn-primary"'
            || 'nth-child="' || (h5 % 5 + 1)::VARCHAR || '"nth-of-type="1"text="Sign up"'
            ELSE '' END,
       person_id, sid, ch_uuid_key(uuid), i
FROM final
"""


class EventStore:
    """Owns the DuckDB connection and the ``events`` table of the main project."""

    def __init__(self, seed: int, person_pool: Sequence[tuple[str, str]]) -> None:
        """Create the table and the person pool events are attributed to.

        Args:
            seed: Dataset seed; every generated column derives from it.
            person_pool: ``(person_id, distinct_id)`` pairs events pick from.
        """
        self.seed = seed
        # No progress bar: DuckDB draws it on stdout, where the CLI prints its JSON line.
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET enable_progress_bar = false")
        self.con.execute(_DDL)
        self._next_idx = 0
        self._npmap = max(1, len(person_pool))
        pool = list(person_pool) or [("00000000-0000-4000-8000-000000000000", "anonymous")]
        self.con.execute(
            "CREATE TABLE _pmap AS SELECT (generate_subscripts(?, 1) - 1)::BIGINT AS pidx, "
            "unnest(?) AS person_id, unnest(?) AS distinct_id",
            [[p for p, _ in pool], [p for p, _ in pool], [d for _, d in pool]],
        )

    def _insert(self, n: int, ts_expr: str, created_expr: str) -> tuple[int, int]:
        i0, i1 = self._next_idx, self._next_idx + n
        sql = _INSERT.format(
            ts_expr=ts_expr,
            created_expr=created_expr,
            seed=self.seed,
            i0=i0,
            i1=i1,
            npmap=self._npmap,
            event_case=_event_case("(hev % 100)"),
            props=_PROPS,
            sid_hex=_uuid7_hex(
                "((ts_us // 3600000000) * 3600000)", "hc % 4096", f"hash(cl, {self.seed}, 20)"
            ),
            uuid_hex=_uuid7_hex(
                "(ts_us // 1000)", f"hash(i, {self.seed}, 17) % 4096", f"hash(i, {self.seed}, 18)"
            ),
            uuid=_dashed("uuid_hex"),
            sid=_dashed("sid_hex"),
        )
        self.con.execute(sql).fetchall()
        self._next_idx = i1
        return i0, i1

    def generate(self, n: int, lo_us: int, hi_us: int, ties: Sequence[tuple[int, int]]) -> None:
        """Generate the initial events with natural small ties plus the given tie groups.

        Args:
            n: Number of events.
            lo_us: Inclusive lower bound of timestamps (epoch microseconds, second aligned).
            hi_us: Exclusive upper bound; also the latest possible ``created_at``.
            ties: ``(size, timestamp_us)`` groups, taking the first event indexes.
        """
        rows, start = [], self._next_idx
        for size, ts_us in ties:
            size = min(size, self._next_idx + n - start)
            if size > 0:
                rows.append((start, start + size, ts_us))
                start += size
        if rows:
            self.con.executemany("INSERT INTO _ties VALUES (?, ?, ?)", rows)
        span = max(1, hi_us - lo_us)
        # Clusters of four events share a base time; a third of them sit exactly on it and the
        # cluster granularity (s, ms or us) is floored, which makes many small natural ties.
        raw = (
            f"({lo_us}::BIGINT + ((hc % {span})::BIGINT + CASE WHEN h1 % 3 = 0 THEN 0 "
            f"ELSE (h2 % 20000000)::BIGINT END) % {span})"
        )
        gran = "[1000000, 1000, 1][(hg % 3)::INT + 1]"
        ts_expr = f"coalesce(tie_us, {raw} - {raw} % {gran})"
        created = (
            f"least(ts_us + CASE WHEN h2 % 50 = 0 THEN 3600000000 + (h1 % 259200000000)::BIGINT "
            f"ELSE 50000 + (h1 % 30000000)::BIGINT END, {hi_us - 1})"
        )
        self._insert(n, ts_expr, created)
        self.con.execute("DELETE FROM _ties").fetchall()

    def add(self, n: int, lo_us: int, hi_us: int, created_us: int | None) -> list[str]:
        """Insert ``n`` events with timestamps uniform in ``[lo_us, hi_us)``.

        Args:
            n: Number of events.
            lo_us: Inclusive lower bound (epoch microseconds).
            hi_us: Exclusive upper bound; equal to ``lo_us + 1`` for a single tie timestamp.
            created_us: Ingestion time for all of them; None keeps the generated lag.

        Returns:
            The new event uuids.
        """
        span = max(1, hi_us - lo_us)
        ts_expr = f"({lo_us}::BIGINT + (h1 % {span})::BIGINT)"
        created = f"{created_us}::BIGINT" if created_us is not None else "ts_us + 1000"
        i0, i1 = self._insert(n, ts_expr, created)
        rows = self.con.execute(
            "SELECT uuid FROM events WHERE _idx >= ? AND _idx < ? ORDER BY _idx", [i0, i1]
        ).fetchall()
        return [r[0] for r in rows]

    def count(self) -> int:
        """Number of events."""
        return int(self.con.execute("SELECT count(*) FROM events").fetchone()[0])

    def ids(self) -> list[str]:
        """Event uuids in ClickHouse order (timestamp, uuid)."""
        rows = self.con.execute('SELECT uuid FROM events ORDER BY "timestamp", _uuid_key')
        return [r[0] for r in rows.fetchall()]

    def records(self) -> list[dict[str, Any]]:
        """Events as the tap should emit them (UTC datetimes, parsed properties)."""
        cols = ", ".join(f'"{c}"' for c in QUERY_COLUMNS)
        rows = self.con.execute(f'SELECT {cols} FROM events ORDER BY "timestamp", _uuid_key')
        return [_truth_record(row) for row in rows.fetchall()]

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """Smallest and largest event timestamps (naive UTC)."""
        lo, hi = self.con.execute(
            'SELECT min("timestamp"), max("timestamp") FROM events'
        ).fetchone()
        return lo, hi

    def close(self) -> None:
        """Close the DuckDB connection."""
        self.con.close()


def _truth_record(row: tuple[Any, ...]) -> dict[str, Any]:
    uuid, event, distinct_id, props, ts, created, chain, person_id, session_id = row
    return {
        "id": uuid,
        "event": event,
        "distinct_id": distinct_id,
        "timestamp": render_utc_fixed(ts),
        "created_at": render_utc_fixed(created),
        "properties": json.loads(props),
        "elements_chain": chain,
        "person_id": person_id,
        "session_id": session_id,
    }

