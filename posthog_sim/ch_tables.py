"""The ClickHouse tables behind HogQL, laid out as PostHog's, and how the dataset fills them.

Raw tables (what PostHog's ingestion writes):

- ``events``: PostHog's sharded events table (posthog/models/event/sql.py): ``uuid UUID``,
  ``DateTime64(6, 'UTC')`` times, ``properties`` a JSON string, ``elements_chain``, the
  materialised ``$session_id`` String ('' when the event has none), ``person_id UUID``
  (persons-on-events), ``person_properties`` String (persons-on-events: the person's properties
  as JSON text when the event was ingested, ``'{}'`` for a personless event; HogQL
  ``person.properties`` reads it, posthog/hogql/database/schema/events.py
  ``EventsPersonSubTable``), ``inserted_at``; ``PARTITION BY toYYYYMM(timestamp) ORDER BY (team_id,
  toDate(timestamp), event, cityHash64(distinct_id), cityHash64(uuid))``.
- ``raw_persons`` (PostHog's ``person``, posthog/models/person/sql.py): one row per version,
  ``ReplacingMergeTree(version)``; a deletion is a row with ``is_deleted = 1`` and
  ``version + 100`` (posthog/models/person/util.py ``delete_person``).
- ``raw_person_distinct_ids`` (PostHog's ``person_distinct_id2``): distinct_id -> person_id rows
  with ``version`` and ``is_deleted``, ``ReplacingMergeTree(version)``.

HogQL tables are views with PostHog's semantics:

- ``persons``: ``argMax(<field>, version)`` per ``id``, ``HAVING argMax(is_deleted, version) = 0``
  (posthog/hogql/database/schema/persons.py ``select_from_persons_table``).
- ``person_distinct_ids``: ``argMax(person_id, version)`` per ``distinct_id``, ``HAVING
  argMax(is_deleted, version) = 0``; persons missing from Postgres ("ghosts") are included
  (posthog/hogql/database/schema/person_distinct_ids.py).
- ``sessions``: one row per ``$session_id``, aggregated from the events, v3 columns
  (posthog/hogql/database/schema/sessions_v3.py ``LAZY_SESSIONS_FIELDS``); ``max_inserted_at``
  is the newest ``inserted_at`` of the session's events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from .clickhouse import Database
from .events import EventRows
from .person_snapshots import stored_json

_EVENTS = """
CREATE TABLE {db}.events (
    uuid UUID,
    event String,
    properties String,
    timestamp DateTime64(6, 'UTC'),
    team_id Int64,
    distinct_id String,
    elements_chain String,
    created_at DateTime64(6, 'UTC'),
    person_id UUID,
    person_properties String,
    `$session_id` String,
    inserted_at DateTime64(6, 'UTC')
) ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (team_id, toDate(timestamp), event, cityHash64(distinct_id), cityHash64(uuid))
SETTINGS index_granularity = {granularity}, allow_nullable_key = 0
"""
_PERSONS_RAW = """
CREATE TABLE {db}.raw_persons (
    id UUID,
    created_at DateTime64(3, 'UTC'),
    team_id Int64,
    properties String,
    is_identified Int8,
    is_deleted Int8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (team_id, id)
"""
_PDI_RAW = """
CREATE TABLE {db}.raw_person_distinct_ids (
    team_id Int64,
    distinct_id String,
    person_id UUID,
    is_deleted Int8,
    version Int64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (team_id, distinct_id)
"""
_PERSONS_VIEW = """
CREATE VIEW {db}.persons AS
SELECT id,
       argMax(created_at, version) AS created_at,
       argMax(team_id, version) AS team_id,
       argMax(properties, version) AS properties,
       argMax(is_identified, version) AS is_identified
FROM {db}.raw_persons
GROUP BY id
HAVING argMax(is_deleted, version) = 0
"""
_PDI_VIEW = """
CREATE VIEW {db}.person_distinct_ids AS
SELECT distinct_id,
       argMax(person_id, version) AS person_id,
       team_id
FROM {db}.raw_person_distinct_ids
GROUP BY team_id, distinct_id
HAVING argMax(is_deleted, version) = 0
"""
_URL = "JSONExtractString(properties, '$current_url')"
_SESSIONS_VIEW = f"""
CREATE VIEW {{db}}.sessions AS
SELECT
    `$session_id` AS session_id,
    `$session_id` AS id,
    team_id,
    argMin(distinct_id, timestamp) AS distinct_id,
    argMin(person_id, timestamp) AS person_id,
    UUIDv7ToDateTime(toUUID(`$session_id`), 'UTC') AS session_timestamp,
    min(timestamp) AS `$start_timestamp`,
    max(timestamp) AS `$end_timestamp`,
    max(inserted_at) AS max_inserted_at,
    arrayFilter(u -> u != '', groupUniqArray({_URL})) AS `$urls`,
    length(`$urls`) AS `$num_uniq_urls`,
    argMinIf({_URL}, timestamp, {_URL} != '') AS `$entry_current_url`,
    path(`$entry_current_url`) AS `$entry_pathname`,
    domain(`$entry_current_url`) AS `$entry_hostname`,
    argMaxIf({_URL}, timestamp, {_URL} != '') AS `$end_current_url`,
    path(`$end_current_url`) AS `$end_pathname`,
    domain(`$end_current_url`) AS `$end_hostname`,
    `$end_current_url` AS `$exit_current_url`,
    `$end_pathname` AS `$exit_pathname`,
    argMin(JSONExtractString(properties, '$referring_domain'), timestamp)
        AS `$entry_referring_domain`,
    argMin(JSONExtractString(properties, 'utm_source'), timestamp) AS `$entry_utm_source`,
    argMin(JSONExtractString(properties, 'utm_campaign'), timestamp) AS `$entry_utm_campaign`,
    argMin(JSONExtractString(properties, 'utm_medium'), timestamp) AS `$entry_utm_medium`,
    argMin(JSONExtractString(properties, 'utm_term'), timestamp) AS `$entry_utm_term`,
    argMin(JSONExtractString(properties, 'utm_content'), timestamp) AS `$entry_utm_content`,
    countIf(event = '$pageview') AS `$pageview_count`,
    countIf(event = '$autocapture') AS `$autocapture_count`,
    countIf(event = '$screen') AS `$screen_count`,
    dateDiff('second', min(timestamp), max(timestamp)) AS `$session_duration`,
    `$session_duration` AS duration,
    if(`$pageview_count` + `$screen_count` + `$autocapture_count` = 0, NULL,
       NOT (`$pageview_count` + `$screen_count` > 1 OR `$session_duration` >= 10)) AS `$is_bounce`,
    if(`$entry_referring_domain` IN ('', '$direct') AND `$entry_utm_source` = '',
       'Direct', 'Referral') AS `$channel_type`
FROM {{db}}.events
WHERE `$session_id` != ''
GROUP BY team_id, `$session_id`
"""
_EVENT_INSERT = (
    "SELECT toUUID(uuid), event, properties, fromUnixTimestamp64Micro(ts, 'UTC'), "
    "{team}, distinct_id, elements_chain, fromUnixTimestamp64Micro(created, 'UTC'), "
    "toUUID(person_id), person_properties, session_id, "
    "fromUnixTimestamp64Micro(inserted, 'UTC')"
)


class Tables:
    """Creates the tables in a simulator's database and keeps them in step with the dataset."""

    def __init__(self, db: Database, team_id: int, granularity: int = 8192) -> None:
        """Create every table and view (empty)."""
        self.db, self.team_id = db, team_id
        for ddl in (_EVENTS, _PERSONS_RAW, _PDI_RAW, _PERSONS_VIEW, _PDI_VIEW, _SESSIONS_VIEW):
            db.execute(ddl.format(db=db.name, granularity=granularity))

    def insert_events(self, rows: EventRows, *, team_id: int | None = None) -> None:
        """Insert materialised events (of ``team_id``, by default the main project)."""
        if not len(rows):
            return
        data = pa.table(
            {
                "uuid": rows.uuid,
                "event": rows.event,
                "properties": rows.properties,
                "ts": pa.array(rows.timestamp_us, pa.int64()),
                "distinct_id": rows.distinct_id,
                "elements_chain": rows.elements_chain,
                "created": pa.array(rows.created_us, pa.int64()),
                "person_id": rows.person_id,
                "person_properties": rows.person_properties,
                "session_id": rows.session_id,
                "inserted": pa.array(rows.inserted_us, pa.int64()),
            }
        )
        team = self.team_id if team_id is None else team_id
        self.db.insert_arrow("events", _EVENT_INSERT.format(team=team), data)

    def write_persons(
        self,
        persons: Iterable[dict[str, Any]],
        *,
        deleted: bool = False,
        team_id: int | None = None,
    ) -> None:
        """Write one version row per person (its current ``_version``), or a deletion row."""
        team = self.team_id if team_id is None else team_id
        rows = list(persons)
        if not rows:
            return
        data = pa.table(
            {
                "id": [p["id"] for p in rows],
                "created_ms": pa.array(
                    [int(p["created_at"].timestamp() * 1000) for p in rows], pa.int64()
                ),
                "properties": [stored_json(p["properties"]) for p in rows],
                "is_identified": pa.array([int(p["is_identified"]) for p in rows], pa.int8()),
                "is_deleted": pa.array([int(deleted)] * len(rows), pa.int8()),
                "version": pa.array([p["_version"] for p in rows], pa.uint64()),
            }
        )
        self.db.insert_arrow(
            "raw_persons",
            "SELECT toUUID(id), fromUnixTimestamp64Milli(created_ms, 'UTC'), "
            f"{team}, properties, is_identified, is_deleted, version",
            data,
        )

    def write_distinct_ids(
        self,
        rows: Iterable[tuple[str, str, int]],
        *,
        deleted: bool = False,
        team_id: int | None = None,
    ) -> None:
        """Write ``(distinct_id, person_id, version)`` rows (or their deletion rows)."""
        team = self.team_id if team_id is None else team_id
        items = list(rows)
        if not items:
            return
        data = pa.table(
            {
                "distinct_id": [d for d, _, _ in items],
                "person_id": [p for _, p, _ in items],
                "version": pa.array([v for _, _, v in items], pa.int64()),
            }
        )
        self.db.insert_arrow(
            "raw_person_distinct_ids",
            f"SELECT {team}, distinct_id, toUUID(person_id), {int(deleted)}, version",
            data,
        )
