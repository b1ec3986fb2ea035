"""Events: keyset paging over ties, resume, incremental runs with late events, date bounds."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tap_posthog.timeutil import parse_datetime, to_utc_string
from tests.taprun import run_tap


def _config(sim, **extra):
    return {
        "personal_api_key": sim.api_key,
        "project_id": str(sim.project_id),  # Meltano passes env values as strings
        "base_url": sim.base_url,
        "events_page_size": 1000,
        **extra,
    }


def _queries(sim):
    """HogQL bodies the simulator received for the events stream."""
    bodies = []
    for request in sim.requests:
        if request.method == "POST" and request.path.endswith("/query/"):
            bodies.append(json.loads(request.body)["query"])
    return bodies


def _assert_exact(ids, truth):
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, f"{len(dupes)} ids emitted twice, e.g. {dupes[:3]}"
    assert set(ids) == set(truth), (
        f"missing {len(set(truth) - set(ids))}, unexpected {len(set(ids) - set(truth))}"
    )


def test_full_sync_is_exact_across_tie_group_larger_than_a_page(sim):
    run = run_tap(_config(sim), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records["events"]
    _assert_exact(run.ids("events"), sim.truth.ids("events"))
    # Ascending, UTC, parsed properties.
    stamps = [r["timestamp"] for r in records]
    assert stamps == sorted(stamps)
    assert all(s.endswith("Z") for s in stamps)
    assert all(isinstance(r["properties"], dict) for r in records)
    assert all(r["project_id"] == sim.project_id for r in records)
    # The biggest tie group (1,500 > 1,000 rows a page) straddles a page boundary: some page
    # continued from a cursor inside it.
    tie_ts, tie_size = Counter(stamps).most_common(1)[0]
    assert tie_size >= 1500
    cursors = [q.get("values", {}).get("after_ts") for q in _queries(sim)]
    assert tie_ts in cursors
    # Values travel as placeholders, never inside the query text.
    for query in _queries(sim):
        for value in query.get("values", {}).values():
            assert str(value) not in query["query"]


def test_records_match_ground_truth_fields(sim):
    run = run_tap(_config(sim), streams=["events"])
    truth = {r["id"]: r for r in sim.truth.records("events")}
    for record in run.records["events"][:200]:
        expected = truth[record["id"]]
        assert parse_datetime(record["timestamp"]) == parse_datetime(expected["timestamp"])
        assert record["event"] == expected["event"]
        assert record["distinct_id"] == expected["distinct_id"]
        assert record["properties"] == expected["properties"]


def test_interrupted_sync_resumes_from_state_without_loss_or_repeat(sim):
    config = _config(sim)
    first = run_tap(config, streams=["events"], stop_after_records=1300)
    assert first.states, "the tap checkpoints once per page"
    checkpoint = first.state
    committed = first.ids("events")[: first.records_before_state[-1]]
    assert 0 < len(committed) < len(sim.truth.ids("events"))
    second = run_tap(config, streams=["events"], state=checkpoint)
    assert second.returncode == 0, second.stderr[-2000:]
    _assert_exact(committed + second.ids("events"), sim.truth.ids("events"))


def test_incremental_run_picks_up_new_and_late_events_only(sim):
    config = _config(sim)
    first = run_tap(config, streams=["events"])
    assert first.returncode == 0
    state = first.state
    now = datetime.now(UTC)
    new_ids = sim.data.add_events(300, start=now - timedelta(minutes=30), end=now)
    late_ids = sim.data.add_late_events(200, lateness=timedelta(hours=6))
    sim.requests.clear()
    second = run_tap(config, streams=["events"], state=state)
    assert second.returncode == 0, second.stderr[-2000:]
    got = second.ids("events")
    assert len(got) == len(set(got))
    assert set(new_ids) | set(late_ids) <= set(got)
    # Anything else re-read is inside the ingestion margin before the last run, never old data.
    truth = {r["id"]: r for r in sim.truth.records("events")}
    watermark = parse_datetime(state["bookmarks"]["events"]["ingested_watermark"])
    for event_id in set(got) - set(new_ids) - set(late_ids):
        created = parse_datetime(truth[event_id]["created_at"])
        assert created >= watermark - timedelta(minutes=15)
    assert len(got) < len(sim.truth.ids("events")) // 2
    _assert_exact(set(first.ids("events")) | set(got), sim.truth.ids("events"))
    # A third run with nothing new re-reads at most the margin and makes few requests.
    sim.requests.clear()
    third = run_tap(config, streams=["events"], state=second.state)
    assert third.returncode == 0
    assert len(_queries(sim)) <= 2


def test_start_and_end_date_bound_the_events(sim):
    records = sim.truth.records("events")
    stamps = sorted({parse_datetime(r["timestamp"]) for r in records})
    start, end = stamps[len(stamps) // 4], stamps[3 * len(stamps) // 4]
    config = _config(sim, start_date=to_utc_string(start), end_date=to_utc_string(end))
    run = run_tap(config, streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    expected = [r["id"] for r in records if start <= parse_datetime(r["timestamp"]) < end]
    _assert_exact(run.ids("events"), expected)


def _query_records(sim):
    return [r for r in sim.requests if r.method == "POST" and r.path.endswith("/query/")]


def test_without_start_date_the_first_event_is_found_by_empty_windows_that_read_nothing(sim):
    run = run_tap(_config(sim), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    records = _query_records(sim)
    queries = [json.loads(r.body)["query"] for r in records]
    # Every query is a data page (the search costs no query of its own) and carries the
    # modifier under which PostHog prints events.timestamp bare (toDate sort key prunes).
    assert all(q["query"].startswith("SELECT uuid") for q in queries)
    assert all(q["modifiers"] == {"convertToProjectTimezone": False} for q in queries)
    first_page = next(i for i, r in enumerate(records) if r.rows)
    searched = queries[:first_page]
    assert searched
    # The search climbs from the floor, each window starting where the one before ended and
    # ending at the start of a UTC day below the run's start; the empty ones read nothing.
    assert queries[0]["values"]["lo"] == "1900-01-01T00:00:00.000000Z"
    for before, after in itertools.pairwise(queries[: first_page + 1]):
        assert after["values"]["lo"] == before["values"]["hi"]
        assert before["values"]["hi"].endswith("T00:00:00.000000Z")
    assert all(records[i].rows_read == 0 for i in range(first_page))
    # The first window holding rows spans at most a third of the time left before the run
    # (the run started after the last event), not the whole range.
    window = queries[first_page]["values"]
    lo, hi = parse_datetime(window["lo"]), parse_datetime(window["hi"])
    last = max(parse_datetime(r["timestamp"]) for r in sim.truth.records("events"))
    assert hi - lo <= (last - lo) / 3 + timedelta(days=1)
    assert 0 < records[first_page].rows < len(sim.truth.ids("events"))
    first = min(parse_datetime(r["timestamp"]) for r in sim.truth.records("events"))
    assert parse_datetime(queries[first_page]["values"]["lo"]) <= first
    _assert_exact(run.ids("events"), sim.truth.ids("events"))
    truth = {r["id"]: {**r, "project_id": sim.project_id} for r in sim.truth.records("events")}
    assert {r["id"]: r for r in run.records["events"]} == truth


def test_events_at_or_before_1970_and_in_the_future_land(sim_factory):
    sim = sim_factory(n_events=300, tie_groups=())
    odd = [
        datetime(1900, 1, 1, 0, 0, 1, tzinfo=UTC),
        datetime(1969, 6, 1, 12, 0, 0, 500000, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2100, 6, 1, 12, tzinfo=UTC),
        datetime(2299, 12, 30, tzinfo=UTC),
    ]
    odd_ids = [i for when in odd for i in sim.data.add_events(2, tie_timestamp=when)]
    run = run_tap(_config(sim), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    _assert_exact(run.ids("events"), sim.truth.ids("events"))
    truth = {r["id"]: r for r in sim.truth.records("events")}
    got = {r["id"]: r for r in run.records["events"]}
    for event_id in odd_ids:
        assert got[event_id] == {**truth[event_id], "project_id": sim.project_id}


def test_only_an_epoch_event_is_not_an_empty_project(sim_factory):
    sim = sim_factory(n_events=0, tie_groups=())
    epoch_ids = sim.data.add_events(3, tie_timestamp=datetime(1970, 1, 1, tzinfo=UTC))
    run = run_tap(_config(sim), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(run.ids("events")) == sorted(epoch_ids)


def test_empty_project_ends_after_a_bounded_search_that_reads_nothing(sim_factory):
    sim = sim_factory(n_events=0, tie_groups=())
    run = run_tap(_config(sim), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.ids("events") == []
    records = _query_records(sim)
    # Windows from 1900 towards the run's start, each a third of what is left, down to a
    # day (at most 28), then one from there to the end of the range (clock-skewed future
    # events), all reading nothing.
    assert len(records) <= 29
    assert all(r.rows_read == 0 for r in records)


def test_gateway_html_504_is_retried_unchanged(sim):
    sim.faults.script(r"/query/", ["504"])
    oldest = min(parse_datetime(r["timestamp"]) for r in sim.truth.records("events"))
    run = run_tap(_config(sim, start_date=to_utc_string(oldest)), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    _assert_exact(run.ids("events"), sim.truth.ids("events"))
    queries = _queries(sim)
    assert [r.status for r in sim.requests if r.path.endswith("/query/")][:2] == [504, 200]
    assert queries[0] == queries[1]
    assert "narrowing" not in run.stderr


def test_each_page_is_bounded_below_by_its_cursor(sim):
    run = run_tap(_config(sim), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    pages = [q for q in _queries(sim) if q["query"].startswith("SELECT uuid")]
    # Only the first-event search comes before any cursor: its windows form a prefix.
    searched = next(i for i, q in enumerate(pages) if "after_ts" in q["values"])
    assert all("after_ts" in q["values"] for q in pages[searched:])
    followed_full_page = 0
    for before, page in itertools.pairwise(pages[searched - 1 :]):
        values = page["values"]
        assert parse_datetime(values["lo"]) >= parse_datetime(values["after_ts"])
        if values["lo"] == values["after_ts"]:
            followed_full_page += 1
        # Windows never go back before the cursor and never overlap the previous one.
        assert parse_datetime(values["lo"]) >= parse_datetime(before["values"]["lo"])
    assert followed_full_page >= 1  # the 1,500-event tie group spans pages of 1,000


def test_query_time_limit_narrows_the_window_and_continues(sim):
    oldest = min(parse_datetime(r["timestamp"]) for r in sim.truth.records("events"))
    config = _config(sim, start_date=to_utc_string(oldest), events_window_hours=24 * 40)
    sim.faults.script(r"/query/", ["query_timeout", "query_timeout"])
    run = run_tap(config, streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    _assert_exact(run.ids("events"), sim.truth.ids("events"))
    statuses = [r.status for r in sim.requests if r.path.endswith("/query/")]
    assert statuses[:3] == [504, 504, 200]
    spans = [
        parse_datetime(q["values"]["hi"]) - parse_datetime(q["values"]["lo"])
        for q in _queries(sim)[:3]
    ]
    assert spans[0] > spans[1] > spans[2]
    assert "narrowing" in run.stderr


OVERLOADS = {
    "504 max execution time": ({"query_max_rows_read": 600}, 504),
    "504 time limit": ({"query_max_rows_read": 600, "query_timeout_text": "time_limit"}, 504),
    "512 too slow": ({"query_too_slow_rows_read": 600}, 512),
    "513 memory": ({"query_memory_rows_read": 600}, 513),
    "512 memory (older)": (
        {"query_memory_rows_read": 600, "query_memory_error_status": 512},
        512,
    ),
    "504 memory (oldest), failure cache on": (
        {
            "query_memory_rows_read": 600,
            "query_memory_error_status": 504,
            "query_failure_cache": True,
        },
        504,
    ),
}


@pytest.mark.parametrize("case", list(OVERLOADS))
def test_any_json_overload_narrows_the_window_and_the_load_stays_exact(sim_factory, case):
    limits, status = OVERLOADS[case]
    # A year of events, ~170 a month; a query may read 600 rows. Granules of 64 rows keep a
    # narrow window cheap whether or not ClickHouse has merged the two projects' parts yet (a
    # merged granule of 8,192 rows would hold a whole month of both).
    sim = sim_factory(tie_groups=(), events_days=365, events_index_granularity=64, **limits)
    run = run_tap(_config(sim, events_window_hours=24 * 40), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    _assert_exact(run.ids("events"), sim.truth.ids("events"))
    truth = {r["id"]: r for r in sim.truth.records("events")}
    assert all(r == {**truth[r["id"]], "project_id": sim.project_id} for r in run.records["events"])
    served = [r for r in sim.requests if r.path.endswith("/query/")]
    failed = [r for r in served if r.status >= 500]
    assert failed, "the limits made some query fail"
    assert {r.status for r in failed} == {status}
    # Each failing query was narrowed, never sent again as it was.
    bodies = [r.body for r in served]
    assert all(bodies.count(r.body) == 1 for r in failed)
    assert "narrowing" in run.stderr


def test_overload_past_the_narrowest_window_is_one_clear_line(sim_factory):
    sim = sim_factory(tie_groups=((400, 1),), query_max_rows_read=200)
    run = run_tap(_config(sim), streams=["events"])
    assert run.returncode == 1
    assert run.last_stderr_line.startswith("tap-posthog: ")
    assert "stayed too expensive for PostHog" in run.last_stderr_line
    assert "Traceback" not in run.stderr


def test_exact_under_a_10000_row_server_cap_with_50000_row_pages(sim_factory):
    sim = sim_factory(n_events=40_000, query_row_cap=10_000, events_days=10)
    run = run_tap(_config(sim, events_page_size=50_000), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    _assert_exact(run.ids("events"), sim.truth.ids("events"))
    truth = {r["id"]: r for r in sim.truth.records("events")}
    assert all(r == {**truth[r["id"]], "project_id": sim.project_id} for r in run.records["events"])
    pages = [r.rows for r in sim.requests if r.path.endswith("/query/")]
    assert max(pages) == 10_000  # the server capped pages; the tap continued after them
