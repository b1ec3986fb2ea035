"""posthog_sim HogQL endpoint: keyset paging, ClickHouse UUID order, timezones, limits, errors."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import api_session

COLUMNS = ("SELECT uuid, event, distinct_id, properties, timestamp, created_at, elements_chain, "
           "person_id, `$session_id`")
WINDOW = "WHERE timestamp >= toDateTime({lo}, 'UTC') AND timestamp < toDateTime({hi}, 'UTC')"
FRESH = ("AND (timestamp >= toDateTime({fresh_from}, 'UTC') OR "
         "created_at >= toDateTime({ingested_from}, 'UTC'))")
AFTER = "AND (timestamp, uuid) > (toDateTime({after_ts}, 'UTC'), toUUID({after_uuid}))"
ORDER = "ORDER BY timestamp ASC, uuid ASC"


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _query(sim, text, values=None, key=None):
    body = {"query": {"kind": "HogQLQuery", "query": text, "values": values or {}},
            "refresh": "force_blocking", "name": "tap-posthog events"}
    return api_session(sim, key).post(f"{sim.base_url}/api/projects/{sim.project_id}/query/",
                                      json=body, timeout=30)


def _ok(sim, text, values=None):
    response = _query(sim, text, values)
    assert response.status_code == 200, response.text
    return response.json()


def _page_through(sim, page_size, lo, hi, fresh=None):
    """The tap's keyset loop, with the exact query text from docs/architecture.md."""
    values = {"lo": lo, "hi": hi}
    if fresh:
        values.update(fresh_from=fresh[0], ingested_from=fresh[1])
    ids, pages, after = [], 0, None
    while True:
        lines = [COLUMNS, "FROM events", WINDOW]
        if fresh:
            lines.append(FRESH)
        if after:
            lines.append(AFTER)
            values.update(after_ts=after[0], after_uuid=after[1])
        lines += [ORDER, f"LIMIT {page_size}"]
        body = _ok(sim, "\n".join(lines), values)
        pages += 1
        rows = body["results"]
        ids += [row[0] for row in rows]
        if len(rows) < page_size:
            return ids, pages
        after = (_utc(datetime.fromisoformat(rows[-1][4])), rows[-1][0])


def test_keyset_paging_through_the_tie_group_returns_exactly_the_truth(sim):
    ids, pages = _page_through(sim, 100, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00.000000Z")
    assert ids == sim.truth.ids("events")
    assert len(ids) == len(set(ids)) == sim.config.n_events
    assert pages > 15


def test_uuid_order_is_clickhouse_order_not_lexicographic(sim):
    records = sim.truth.records("events")
    stamp, size = Counter(r["timestamp"] for r in records).most_common(1)[0]
    assert size == 1500
    tie = [r["id"] for r in records if r["timestamp"] == stamp]
    assert tie != sorted(tie)
    assert tie == sorted(tie, key=lambda u: u.replace("-", "")[16:] + u.replace("-", "")[:16])
    middle = tie[700]
    text = ("SELECT uuid FROM events WHERE (timestamp, uuid) > (toDateTime({ts}, 'UTC'), "
            "toUUID({u})) AND timestamp <= toDateTime({ts}, 'UTC') "
            "ORDER BY timestamp, uuid LIMIT 5000")
    body = _ok(sim, text, {"ts": stamp, "u": middle})
    assert [row[0] for row in body["results"]] == tie[701:]
    lexicographic_later = {u for u in tie if u > middle}
    assert lexicographic_later != set(tie[701:])


def test_datetimes_render_in_project_timezone_like_isoformat(sim):
    tz = ZoneInfo("America/Los_Angeles")
    records = sim.truth.records("events")
    whole = next(r for r in records if r["timestamp"].endswith(".000000Z"))
    fraction = next(r for r in records if not r["timestamp"].endswith("000Z"))
    for record in (whole, fraction):
        body = _ok(sim, "SELECT timestamp, created_at, properties, `$session_id` FROM events "
                        "WHERE uuid = toUUID({id})", {"id": record["id"]})
        ts, created, props, session = body["results"][0]
        expected = datetime.fromisoformat(record["timestamp"]).astimezone(tz).isoformat()
        assert ts == expected
        assert ts.endswith(("-08:00", "-07:00"))
        assert datetime.fromisoformat(created) == datetime.fromisoformat(record["created_at"])
        assert isinstance(props, str)
        assert session == record["session_id"]
    assert "." not in _ok(sim, "SELECT timestamp FROM events WHERE uuid = toUUID({id})",
                          {"id": whole["id"]})["results"][0][0]
    assert body["types"][0] == ["timestamp", "DateTime64(6, 'America/Los_Angeles')"]


def test_to_datetime_without_zone_uses_project_timezone(sim):
    body = _ok(sim, "SELECT count() FROM events WHERE timestamp < toDateTime({t})",
               {"t": "2000-01-01 00:00:00"})
    assert body["results"] == [[0]]
    records = sim.truth.records("events")
    first = datetime.fromisoformat(records[0]["timestamp"])
    local = first.astimezone(ZoneInfo("America/Los_Angeles")).replace(tzinfo=None)
    naive = _ok(sim, "SELECT min(timestamp) FROM events WHERE timestamp >= toDateTime({t})",
                {"t": local.isoformat()})
    with_utc = _ok(sim, "SELECT min(timestamp) FROM events "
                        "WHERE timestamp >= toDateTime({t}, 'UTC')", {"t": _utc(first)})
    assert naive["results"] == with_utc["results"]


def test_limit_cap_default_limit_and_has_more(sim_factory):
    big = sim_factory(n_events=50_050, tie_groups=(), n_persons=50)
    capped = _ok(big, "SELECT uuid FROM events ORDER BY timestamp, uuid LIMIT 60000")
    assert len(capped["results"]) == 50_000
    assert capped["hasMore"] is None
    default = _ok(big, "SELECT uuid FROM events")
    assert len(default["results"]) == 100
    assert (default["hasMore"], default["limit"], default["offset"]) == (True, 100, 0)
    assert "LIMIT 100" in default["hogql"]


def test_aggregates_and_empty_min(sim):
    body = _ok(sim, "SELECT min(timestamp), max(timestamp), count() FROM events")
    lo, hi, count = body["results"][0]
    records = sim.truth.records("events")
    assert count == len(records)
    assert datetime.fromisoformat(lo) == datetime.fromisoformat(records[0]["timestamp"])
    assert datetime.fromisoformat(hi) == datetime.fromisoformat(records[-1]["timestamp"])
    assert body["columns"] == ["min(timestamp)", "max(timestamp)", "count()"]
    empty = _ok(sim, "SELECT min(timestamp), count() FROM events WHERE event = {e}", {"e": "nope"})
    assert empty["results"] == [["1969-12-31T16:00:00-08:00", 0]]


def test_fresh_or_ingested_clause_finds_new_and_late_events(sim):
    now = datetime.now(UTC)
    new = sim.data.add_events(30, start=now - timedelta(minutes=20), end=now)
    late = sim.data.add_late_events(20, lateness=timedelta(days=3))
    since = now - timedelta(hours=1)
    ids, _ = _page_through(sim, 25, "2000-01-01T00:00:00Z", _utc(now + timedelta(minutes=1)),
                           fresh=(_utc(since), _utc(since)))
    assert set(ids) == set(new) | set(late)
    truth = {r["id"]: r for r in sim.truth.records("events")}
    assert all(truth[i]["created_at"] > truth[i]["timestamp"] for i in late)


def test_properties_access_and_aliases(sim):
    body = _ok(sim, "SELECT event AS e, properties.$browser AS browser, count() AS n FROM events "
                    "WHERE event = '$pageview' GROUP BY e, browser ORDER BY n DESC LIMIT 3")
    assert body["columns"] == ["e", "browser", "n"]
    assert all(row[0] == "$pageview" and row[1] for row in body["results"])


@pytest.mark.parametrize(
    ("text", "values", "fragment"),
    [
        ("SELECT uuid FROM nope", {}, 'Unknown table "nope"'),
        ("SELECT nope FROM events", {}, "Unable to resolve field: nope"),
        ("SELECT uuid FROM events WHERE timestamp > {x}", {}, "Placeholder {x}"),
        ("SELECT uuid FROM events LIMIT 10 OFFSET 10", {}, "OFFSET is not supported"),
        ("SELECT uuid FROM events WHERE", {}, "no viable alternative at input"),
        ("SELECT sleep(3) FROM events", {}, "Unsupported function call"),
        ("SELECT uuid FROM events UNION ALL SELECT uuid FROM events", {},
         "Unsupported HogQL syntax"),
        ("SELECT uuid FROM events WHERE timestamp > 'soon'", {}, "CANNOT_PARSE_DATETIME"),
    ],
)
def test_bad_queries_are_400_validation_errors(sim, text, values, fragment):
    response = _query(sim, text, values)
    assert response.status_code == 400
    body = response.json()
    assert (body["type"], body["code"], body["attr"]) == ("validation_error", "invalid_input", None)
    assert fragment in body["detail"]


def test_bad_request_bodies(sim):
    session = api_session(sim)
    url = f"{sim.base_url}/api/projects/{sim.project_id}/query/"
    assert session.post(url, json={"nope": 1}, timeout=10).status_code == 400
    assert session.post(url, json={"query": {"kind": "TrendsQuery"}}, timeout=10).status_code == 400
    assert session.post(url, data=b"{not json", timeout=10).status_code == 400
    assert session.get(url, timeout=10).status_code == 405
