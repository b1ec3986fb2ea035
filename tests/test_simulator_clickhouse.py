"""posthog_sim on ClickHouse: PostHog's limits and failures, the HogQL tables beside events."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pytest

from posthog_sim.query_limits import (
    MEMORY_DETAIL,
    TIME_LIMIT_DETAIL,
    TIMEOUT_DETAIL,
    TOO_SLOW_DETAIL,
)
from tests.helpers import api_session

WINDOW = ("SELECT uuid FROM events WHERE timestamp >= toDateTime({lo}, 'UTC') "
          "AND timestamp < toDateTime({hi}, 'UTC') ORDER BY timestamp, uuid LIMIT 50000")


def _query(sim, text, values=None):
    body = {"query": {"kind": "HogQLQuery", "query": text, "values": values or {}},
            "refresh": "force_blocking"}
    return api_session(sim).post(f"{sim.base_url}/api/projects/{sim.project_id}/query/",
                                 json=body, timeout=30)


def _utc(value):
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _window(sim, days):
    hi = sim.data.anchor
    return {"lo": _utc(hi - timedelta(days=days)), "hi": _utc(hi)}


@pytest.mark.parametrize(("text", "detail"), [("max_execution_time", TIMEOUT_DETAIL),
                                              ("time_limit", TIME_LIMIT_DETAIL)])
def test_reading_too_many_rows_is_a_504_timeout_and_a_narrower_window_succeeds(
        sim_factory, text, detail):
    # 3,000 events over 120 days: four or five monthly partitions. PostHog's printed
    # toTimeZone(timestamp) lets ClickHouse prune partitions only, so the narrow window lies
    # inside one month and reads that month alone.
    sim = sim_factory(n_events=3000, tie_groups=(), events_days=120, events_index_granularity=64,
                      query_max_rows_read=1500, query_timeout_text=text)
    wide = _query(sim, WINDOW, _window(sim, 120))
    assert wide.status_code == 504
    assert wide.json() == {"type": "server_error", "code": "error", "detail": detail,
                           "attr": None}
    mid = (sim.data.anchor - timedelta(days=60)).replace(day=10)
    window = {"lo": _utc(mid), "hi": _utc(mid + timedelta(days=1))}
    narrow = _query(sim, WINDOW, window)
    assert narrow.status_code == 200, narrow.text
    lo, hi = (datetime.fromisoformat(v) for v in window.values())
    expected = [r["id"] for r in sim.truth.records("events")
                if lo <= datetime.fromisoformat(r["timestamp"]) < hi]
    assert [row[0] for row in narrow.json()["results"]] == expected
    records = sim.requests.matching("/query/")
    assert records[0].rows_read > 1500 >= records[1].rows_read > 0
    assert sim.requests.clickhouse_read() == (
        records[0].rows_read + records[1].rows_read,
        records[0].bytes_read + records[1].bytes_read)


def test_without_project_timezone_conversion_the_sort_key_prunes_by_day(sim_factory):
    # PostHog prints toTimeZone(events.timestamp, tz) unless the query's modifiers say
    # convertToProjectTimezone: false; then ClickHouse's toDate(timestamp) key prunes by day.
    sim = sim_factory(n_events=3000, tie_groups=(), events_days=30, events_index_granularity=64)
    day = sim.data.anchor.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=10)
    window = {"lo": _utc(day), "hi": _utc(day + timedelta(days=1))}
    results, reads = [], []
    for modifiers in ({}, {"convertToProjectTimezone": True},
                      {"convertToProjectTimezone": False}):
        body = {"query": {"kind": "HogQLQuery", "query": WINDOW, "values": window,
                          "modifiers": modifiers}, "refresh": "force_blocking"}
        response = api_session(sim).post(
            f"{sim.base_url}/api/projects/{sim.project_id}/query/", json=body, timeout=30)
        assert response.status_code == 200, response.text
        payload = response.json()
        converted = modifiers.get("convertToProjectTimezone", True)
        assert ("toTimeZone" in payload["clickhouse"]) is converted
        assert payload["modifiers"]["convertToProjectTimezone"] is converted
        results.append(payload["results"])
        reads.append(sim.requests.matching("/query/")[-1].rows_read)
    lo, hi = (datetime.fromisoformat(v) for v in window.values())
    expected = [[r["id"]] for r in sim.truth.records("events")
                if lo <= datetime.fromisoformat(r["timestamp"]) < hi]
    assert expected
    assert results == [expected] * 3
    # The whole month's partition with the conversion, little more than the day without.
    assert reads[0] == reads[1] > 4 * reads[2]
    assert reads[2] < 3 * len(expected) + 3 * 64


def test_a_non_boolean_timezone_modifier_is_a_validation_error(sim):
    body = {"query": {"kind": "HogQLQuery", "query": "SELECT 1",
                      "modifiers": {"convertToProjectTimezone": "no"}},
            "refresh": "force_blocking"}
    response = api_session(sim).post(
        f"{sim.base_url}/api/projects/{sim.project_id}/query/", json=body, timeout=30)
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"


def test_too_slow_512_and_memory_513(sim_factory):
    slow = sim_factory(n_events=500, tie_groups=(), query_too_slow_rows_read=10)
    response = _query(slow, "SELECT count() FROM events WHERE event != ''")
    assert (response.status_code, response.json()["detail"]) == (512, TOO_SLOW_DETAIL)
    memory = sim_factory(n_events=500, tie_groups=(), query_memory_rows_read=10)
    response = _query(memory, "SELECT count() FROM events WHERE event != ''")
    assert response.status_code == 513
    assert response.json()["code"] == "clickhouse_memory_limit_exceeded"
    assert response.json()["detail"] == MEMORY_DETAIL
    assert _query(memory, "SELECT count() FROM events").status_code == 200  # metadata only


@pytest.mark.parametrize(("fault", "status", "detail"), [
    ("query_timeout_default", 504, TIMEOUT_DETAIL), ("query_too_slow", 512, TOO_SLOW_DETAIL),
    ("query_memory", 513, MEMORY_DETAIL), ("query_memory:504", 504, MEMORY_DETAIL)])
def test_scripted_query_failures(sim_factory, fault, status, detail):
    sim = sim_factory(n_events=50, tie_groups=())
    sim.faults.script(r"/query/", [fault])
    failed = _query(sim, "SELECT count() FROM events")
    assert (failed.status_code, failed.json()["detail"]) == (status, detail)
    assert _query(sim, "SELECT count() FROM events").json()["results"] == [[50]]


def test_failure_cache_serves_the_failure_after_three_timeouts(sim_factory):
    sim = sim_factory(n_events=500, tie_groups=(), query_max_rows_read=10,
                      query_failure_cache=True, time_scale=1.0)
    text = "SELECT uuid FROM events WHERE event != '' LIMIT 10"
    statuses = [_query(sim, text).status_code for _ in range(5)]
    assert statuses == [504] * 5
    ran = [r.rows_read for r in sim.requests.matching("/query/")]
    assert all(r is not None and r > 10 for r in ran[:3])
    assert ran[3:] == [None, None]  # served from the failure cache, ClickHouse not asked
    other = _query(sim, "SELECT uuid FROM events WHERE event = 'nope' LIMIT 10")
    assert other.status_code in (200, 504)


def test_row_cap_lowers_a_larger_limit_silently(sim_factory):
    sim = sim_factory(n_events=1200, tie_groups=(), query_row_cap=1000)
    body = _query(sim, "SELECT uuid FROM events ORDER BY timestamp, uuid LIMIT 5000").json()
    assert [row[0] for row in body["results"]] == sim.truth.ids("events")[:1000]
    assert "LIMIT 1000" in body["hogql"]


def test_legacy_hogql_throttle_is_120_an_hour(sim_factory):
    sim = sim_factory(n_events=50, tie_groups=(), rate_limits=True,
                      legacy_query_rate_limit=True)
    statuses = [_query(sim, "SELECT 1 FROM events LIMIT 1").status_code for _ in range(121)]
    assert statuses[:120] == [200] * 120
    assert statuses[120] == 429


def test_read_quota_gives_402_once_spent(sim_factory):
    sim = sim_factory(n_events=800, tie_groups=(), query_read_quota_bytes=1000)
    text = "SELECT properties FROM events ORDER BY timestamp LIMIT 10"
    assert _query(sim, text).status_code == 200
    spent = _query(sim, text)
    assert spent.status_code == 402
    assert spent.json()["code"] == "api_queries_quota_exceeded"
    assert sim.requests.clickhouse_read()[1] > 1000


def test_extreme_event_times_are_in_clickhouse_and_in_the_truth(sim_factory):
    sim = sim_factory(n_events=100, tie_groups=(), extreme_event_times=True)
    stamps = [r["timestamp"] for r in sim.truth.records("events")]
    assert stamps[:4] == ["1900-01-01T00:00:00.500000Z", "1960-07-04T12:00:00.000000Z",
                          "1969-12-31T23:59:59.999999Z", "1970-01-01T00:00:00.000000Z"]
    assert stamps[-1] == "2199-12-31T23:59:59.999999Z"
    body = _query(sim, "SELECT uuid, timestamp FROM events ORDER BY timestamp, uuid "
                       "LIMIT 10000").json()
    assert [row[0] for row in body["results"]] == sim.truth.ids("events")
    assert body["results"][3][1] == "1969-12-31T16:00:00-08:00"
    first = _query(sim, "SELECT min(timestamp) FROM events").json()["results"][0][0]
    assert first == "1899-12-31T16:00:00.500000-08:00"


def test_utc_project_renders_z_and_omits_zero_microseconds(sim_factory):
    sim = sim_factory(n_events=200, tie_groups=(), main_project_timezone="UTC")
    records = sim.truth.records("events")
    rows = _query(sim, "SELECT uuid, timestamp FROM events ORDER BY timestamp, uuid "
                       "LIMIT 1000").json()["results"]
    for record, (uuid, stamp) in zip(records, rows, strict=True):
        assert uuid == record["id"]
        expected = record["timestamp"].replace(".000000Z", "Z")
        assert stamp == expected


def test_persons_and_distinct_ids_follow_mutations(sim_factory):
    sim = sim_factory(n_events=50, n_persons=30, tie_groups=())

    def persons():
        rows = _query(sim, "SELECT id, properties, is_identified FROM persons ORDER BY id "
                           "LIMIT 1000").json()["results"]
        return sorted(row[0] for row in rows)  # ClickHouse orders UUIDs second half first

    def pdis():
        rows = _query(sim, "SELECT distinct_id, person_id FROM person_distinct_ids "
                           "ORDER BY distinct_id LIMIT 1000").json()["results"]
        return [tuple(row) for row in rows]

    assert persons() == sorted(p["id"] for p in sim.data.hogql_persons())
    assert pdis() == sim.data.hogql_person_distinct_ids()
    visible = [p for p in sim.data.persons if not p["_hidden"]]
    keep, gone, dead = visible[0]["id"], visible[1]["id"], visible[2]["id"]
    sim.data.merge_persons(keep, gone)
    sim.data.delete_person(dead)
    new = sim.data.add_persons(2)
    sim.data.update_person_properties(keep)
    ids = persons()
    assert ids == sorted(p["id"] for p in sim.data.hogql_persons())
    assert gone not in ids
    assert dead not in ids
    assert set(new) <= set(ids)
    assert pdis() == sim.data.hogql_person_distinct_ids()
    moved = {d for d, p in pdis() if p == keep}
    assert len(moved) >= 2
    props = _query(sim, "SELECT properties FROM persons WHERE id = {id} LIMIT 1",
                   {"id": keep}).json()["results"][0][0]
    assert '"updated_n":1' in props


def test_sessions_one_row_per_session_from_the_events(sim_factory):
    sim = sim_factory(n_events=400, tie_groups=())
    records = sim.truth.records("events")
    expected = {}
    for r in records:
        if r["session_id"]:
            expected.setdefault(r["session_id"], []).append(r)
    body = _query(sim, "SELECT session_id, $start_timestamp, $end_timestamp, $pageview_count, "
                       "max_inserted_at FROM sessions ORDER BY session_id LIMIT 10000").json()
    assert [row[0] for row in body["results"]] == sorted(expected)
    for sid, start, end, pageviews, inserted in body["results"]:
        events = expected[sid]
        stamps = [datetime.fromisoformat(e["timestamp"]) for e in events]
        assert datetime.fromisoformat(start) == min(stamps)
        assert datetime.fromisoformat(end) == max(stamps)
        assert pageviews == sum(e["event"] == "$pageview" for e in events)
        assert inserted is not None


def test_grammar_stand_ins_never_leave_a_posthog_module():
    from posthog_sim.hogql_grammar import parse_select

    assert parse_select("SELECT 1 FROM events")["node"] == "SelectQuery"
    assert "posthog" not in sys.modules or not hasattr(sys.modules["posthog"], "hogql")
