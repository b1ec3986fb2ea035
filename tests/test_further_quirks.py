"""The further endpoints' quirks, in the simulator (PostHog's shape) and through the tap."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from tap_posthog.product_streams import INSIGHTS_MARGIN
from tap_posthog.recording_streams import RECORDINGS_LOOKBACK
from tap_posthog.timeutil import parse_datetime
from tests.further import assert_rows_equal
from tests.helpers import api_session, tap_config
from tests.taprun import run_tap


def _get(sim, path, key=None, **params):
    url = f"{sim.base_url}/api/projects/{sim.project_id}/{path}"
    return api_session(sim, key).get(url, params=params, timeout=10)


def test_actions_have_no_next_and_limit_truncates(session_sim):
    whole = _get(session_sim, "actions/").json()
    assert set(whole) == {"count", "results"}
    assert len(whole["results"]) == whole["count"] == len(session_sim.truth.ids("actions"))
    cut = _get(session_sim, "actions/", limit=5).json()
    assert len(cut["results"]) == 5
    assert "next" not in cut


def test_tap_reads_actions_in_one_request_without_limit(sim):
    run = run_tap({**tap_config(sim), "page_size": 5}, streams=["actions"])
    assert run.returncode == 0, run.stderr[-2000:]
    requests = sim.requests.matching("/actions/")
    assert len(requests) == 1
    assert "limit" not in requests[0].query
    assert sorted(run.ids("actions")) == sorted(sim.truth.ids("actions"))


def test_archived_experiments_hidden_unless_asked_and_read_by_the_tap(sim):
    default = {r["id"] for r in _get(sim, "experiments/").json()["results"]}
    archived = {r["id"] for r in _get(sim, "experiments/", archived="true").json()["results"]}
    assert archived
    assert not default & archived
    assert _get(sim, "experiments/", order="bogus").status_code == 400
    run = run_tap(tap_config(sim), streams=["experiments"])
    assert set(run.ids("experiments")) == default | archived


def test_unlisted_dashboards_hidden_unless_asked_and_read_by_the_tap(sim):
    listed = _get(sim, "dashboards/").json()["results"]
    assert all(d["creation_mode"] != "unlisted" for d in listed)
    unlisted = _get(sim, "dashboards/", creation_mode="unlisted").json()["results"]
    assert unlisted
    run = run_tap(tap_config(sim), streams=["dashboards"])
    assert set(run.ids("dashboards")) == {d["id"] for d in listed + unlisted}


def test_group_types_are_a_bare_array(session_sim):
    body = _get(session_sim, "groups_types/").json()
    assert isinstance(body, list)
    assert [t["group_type_index"] for t in body] == [0, 1, 2]


def test_groups_cursor_pages_of_100_without_count_and_tie_safe(session_sim):
    assert _get(session_sim, "groups/").status_code == 400
    rows, url, pages = [], "groups/?group_type_index=0&limit=7", 0
    body = _get(session_sim, url).json()
    while True:
        pages += 1
        assert set(body) == {"next", "previous", "results"}
        assert body["previous"] is None
        rows += body["results"]
        if not body["next"]:
            break
        assert len(body["results"]) == 100  # limit is ignored
        body = api_session(session_sim).get(body["next"], timeout=10).json()
    keys = [g["group_key"] for g in rows]
    assert pages >= 3
    assert len(keys) == len(set(keys))
    truth = [k for t, k in session_sim.truth.ids("groups") if t == 0]
    assert keys == truth
    stamps = [g["created_at"] for g in rows]
    assert stamps[99] == stamps[100], "a created_at tie spans the first page edge"


def test_groups_old_format_cursor_restarts_at_the_first_page(session_sim):
    old = base64.urlsafe_b64encode(json.dumps({"c": 1, "i": 5}).encode()).decode()
    first = _get(session_sim, "groups/", group_type_index=0)
    again = _get(session_sim, "groups/", group_type_index=0, cursor=old)
    assert again.json()["results"] == first.json()["results"]


def test_tap_reads_groups_added_inside_a_tie(sim):
    tie = sim.data.groups[0][99]["created_at"]
    sim.data.add_group(0, "company_zz_tied", tie)
    run = run_tap(tap_config(sim), streams=["groups"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert_rows_equal("groups", run.records["groups"], sim.truth.records("groups"), sim.project_id)
    assert len(sim.requests.matching("/groups/")) >= 4


def test_recordings_default_to_three_days_and_page_with_has_next(session_sim):
    body = _get(session_sim, "session_recordings/").json()
    assert set(body) == {"results", "has_next", "version"}
    assert body["version"] == 4
    floor = datetime.now(UTC) - timedelta(days=3, minutes=5)
    assert all(parse_datetime(r["start_time"]) >= floor for r in body["results"])
    assert len(body["results"]) < len(session_sim.truth.ids("session_recordings"))
    page = _get(session_sim, "session_recordings/", limit=10, date_from="all").json()
    assert len(page["results"]) == 10
    assert page["has_next"] is True
    assert _get(session_sim, "session_recordings/", limit="ten").status_code == 400


def test_recordings_second_run_rereads_growing_ones_and_finds_new_ones(sim):
    config = {**tap_config(sim), "page_size": 25}
    first = run_tap(config, streams=["session_recordings"])
    assert first.returncode == 0, first.stderr[-2000:]
    assert sorted(first.ids("session_recordings")) == sorted(sim.truth.ids("session_recordings"))
    assert sim.requests.matching("/session_recordings/")[0].query["date_from"] == [
        "1970-01-01T00:00:00Z"
    ]
    newest = max(parse_datetime(r["start_time"]) for r in first.records["session_recordings"])
    ongoing = next(r for r in sim.data.recordings if r["start_time"] == newest)
    sim.data.grow_recording(ongoing["id"], 300)
    new_id = sim.data.add_recording(datetime.now(UTC) - timedelta(minutes=1))
    sim.requests.clear()
    second = run_tap(config, streams=["session_recordings"], state=first.state)
    assert second.returncode == 0, second.stderr[-2000:]
    date_from = sim.requests.matching("/session_recordings/")[0].query["date_from"][0]
    assert parse_datetime(date_from) == newest - RECORDINGS_LOOKBACK
    got = {r["id"]: r for r in second.records["session_recordings"]}
    assert new_id in got
    assert ongoing["id"] in got
    assert len(got) < len(first.ids("session_recordings"))
    assert got[ongoing["id"]]["recording_duration"] == ongoing["recording_duration"]


def test_insights_hide_deleted_and_filter_last_modified_strictly(sim):
    rows = _get(sim, "insights/", basic="true", limit=500).json()["results"]
    assert "result" not in rows[0]
    assert len(rows) == len(sim.truth.ids("insights"))
    stamp = max(r["last_modified_at"] for r in rows)
    after = _get(sim, "insights/", basic="true", date_from=stamp).json()["results"]
    assert all(r["last_modified_at"] > stamp for r in after)


def test_insights_second_run_asks_from_the_bookmark_minus_a_margin(sim):
    first = run_tap(tap_config(sim), streams=["insights"])
    assert first.returncode == 0, first.stderr[-2000:]
    bookmark = first.state["bookmarks"]["insights"]["replication_key_value"]
    renamed = first.ids("insights")[3]
    deleted = first.ids("insights")[4]
    sim.data.touch_insight(renamed, "Renamed between runs")
    sim.data.set_insight_deleted(deleted)
    sim.requests.clear()
    second = run_tap(tap_config(sim), streams=["insights"], state=first.state)
    assert second.returncode == 0, second.stderr[-2000:]
    date_from = sim.requests.matching("/insights/")[0].query["date_from"][0]
    assert parse_datetime(date_from) == parse_datetime(bookmark) - INSIGHTS_MARGIN
    got = {r["id"]: r for r in second.records["insights"]}
    assert got[renamed]["name"] == "Renamed between runs"
    assert deleted not in got
    assert len(got) < len(first.ids("insights"))


def test_cohort_people_pages_are_short_with_next_and_need_person_scope(sim):
    cohort = max(sim.data.cohort_members, key=lambda c: len(sim.data.cohort_members[c]))
    path = f"cohorts/{cohort}/persons/"
    first = _get(sim, path, limit=10).json()
    assert set(first) == {"results", "next", "previous"}
    second = api_session(sim).get(first["next"], timeout=10).json()
    assert second["previous"] == first["next"]  # offset 0 renders the current URL
    short = [
        p
        for p in range(0, 300, 10)
        if (b := _get(sim, path, limit=10, offset=p).json())["next"] and len(b["results"]) < 10
    ]
    assert short, "ghost persons should make some pages short"
    assert _get(sim, path, limit="x").status_code == 500
    denied = _get(sim, path, key=sim.keys.missing_scope)
    assert denied.status_code == 403
    assert "person:read" in denied.json()["detail"]
    run = run_tap({**tap_config(sim), "page_size": 10}, streams=["cohort_people"])
    assert run.returncode == 0, run.stderr[-2000:]
    truth = sim.truth.records("cohort_people")
    assert_rows_equal("cohort_people", run.records["cohort_people"], truth, sim.project_id)
    failed = run_tap({**tap_config(sim), "personal_api_key": sim.keys.missing_scope},
                     streams=["cohort_people"])  # fmt: skip
    assert failed.returncode == 1
    assert "person:read" in failed.last_stderr_line
