"""Several projects in one tap run (``project_ids``): exact rows and state per project."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from posthog_sim import SimConfig, Simulator
from tests.further import assert_rows_equal, key_of
from tests.helpers import tap_config
from tests.projects import PROJECT_STREAMS, TOP_LEVEL, expected_rows, two_project_config
from tests.rows import schema, to_row
from tests.taprun import run_tap

SMALL_PAGES = {"page_size": 40, "events_page_size": 1000}


@pytest.fixture(scope="module")
def two_sim():
    """A simulator this module mutates (after the first run has been checked)."""
    simulator = Simulator(SimConfig(seed=7)).start()
    try:
        yield simulator
    finally:
        simulator.close()


@pytest.fixture(scope="module")
def first_run(two_sim):
    run = run_tap({**two_project_config(two_sim), **SMALL_PAGES})
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def _of(run, stream: str, project_id: int) -> list[dict]:
    return [r for r in run.records.get(stream, []) if r["project_id"] == project_id]


@pytest.mark.parametrize("stream", PROJECT_STREAMS)
def test_every_table_of_both_projects_is_exact(first_run, two_sim, stream):
    projects = (two_sim.project_id, two_sim.other_project_id)
    emitted = first_run.records.get(stream, [])
    assert {r["project_id"] for r in emitted} == set(projects)
    for pid in projects:
        truth = expected_rows(two_sim, stream, pid)
        assert truth, f"the simulator should have {stream} in project {pid}"
        assert_rows_equal(stream, _of(first_run, stream, pid), truth, pid)


def test_projects_stream_reads_each_configured_project_once(first_run, two_sim):
    rows = first_run.records["projects"]
    projects = [two_sim.project_id, two_sim.other_project_id]
    assert sorted(r["id"] for r in rows) == sorted(projects)
    for row in rows:  # GET /api/projects/{id}/ of each project (works with project-scoped keys)
        (want,) = expected_rows(two_sim, "projects", row["id"])
        columns = schema("projects")
        assert to_row(columns, row) == to_row(columns, {**want, "project_id": want["id"]})


def test_state_has_one_partition_per_project(first_run, two_sim):
    projects = [two_sim.project_id, two_sim.other_project_id]
    bookmarks = first_run.state["bookmarks"]
    for stream in TOP_LEVEL:
        contexts = [p["context"] for p in bookmarks[stream]["partitions"]]
        assert contexts == [{"project_id": pid} for pid in projects], stream
        assert "replication_key_value" not in bookmarks[stream], stream
    for partition in bookmarks["events"]["partitions"]:
        assert {"window_end", "ingested_watermark", "replication_key_value"} <= set(partition)
        assert "run" not in partition
    # child streams: one partition per (project, parent row), each in its own project
    groups = {tuple(p["context"].items()) for p in bookmarks["groups"]["partitions"]}
    assert groups == {
        (("project_id", pid), ("group_type_index", t["group_type_index"]))
        for pid in projects
        for t in two_sim.truth.records("group_types", pid)
    }
    members = {(p["context"]["project_id"], p["context"]["cohort_id"])
                for p in bookmarks["cohort_people"]["partitions"]}  # fmt: skip
    assert members == {
        (pid, c["id"]) for pid in projects for c in two_sim.truth.records("cohorts", pid)
    }


def test_second_run_is_incremental_for_both_projects(first_run, two_sim):
    data, projects = two_sim.data, (two_sim.project_id, two_sim.other_project_id)
    now = datetime.now(UTC).replace(microsecond=0)
    new_events, touched = {}, {}
    for pid in projects:
        new_events[pid] = data.add_events(
            7, start=now - timedelta(hours=3), end=now - timedelta(hours=2), project_id=pid
        )
        insight = two_sim.truth.records("insights", pid)[-1]["id"]
        data.touch_insight(insight, f"Renamed in {pid}", project_id=pid)
        touched[pid] = insight
    second = run_tap(
        {**two_project_config(two_sim), **SMALL_PAGES},
        streams=["events", "insights"],
        state=first_run.state,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    for pid in projects:
        # events: the new ones (and at most a few re-read near the watermark), never all
        events = _of(second, "events", pid)
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids))
        assert set(new_events[pid]) <= set(ids)
        assert len(ids) < len(two_sim.truth.ids("events", pid)) // 4
        union = {key_of("events", r) for r in _of(first_run, "events", pid) + events}
        assert union == set(two_sim.truth.ids("events", pid))
        truth = {r["id"]: r for r in two_sim.truth.records("events", pid)}
        assert_rows_equal("events", events, [truth[i] for i in ids], pid)
        # insights: only those modified since the bookmark (minus its margin)
        insights = _of(second, "insights", pid)
        assert touched[pid] in {r["id"] for r in insights}
        assert len(insights) < len(two_sim.truth.ids("insights", pid))
        renamed = next(r for r in insights if r["id"] == touched[pid])
        assert renamed["name"] == f"Renamed in {pid}"
    before, after = _events_partitions(first_run), _events_partitions(second)
    for pid in projects:
        assert after[pid]["window_end"] > before[pid]["window_end"]
    # each project's events query carried its own late-event filter (from its own state)
    queries = [r for r in two_sim.requests if r.path.endswith("/query/")]
    assert {r.path for r in queries} >= {f"/api/projects/{pid}/query/" for pid in projects}


def _events_partitions(run) -> dict[int, dict]:
    partitions = run.state["bookmarks"]["events"]["partitions"]
    return {p["context"]["project_id"]: p for p in partitions}


def test_one_project_keeps_the_unpartitioned_state(sim):
    run = run_tap({**tap_config(sim), "events_page_size": 1000}, streams=["events", "groups"])
    assert run.returncode == 0, run.stderr[-2000:]
    events = run.state["bookmarks"]["events"]
    assert "partitions" not in events
    assert events["window_end"]
    assert {r["project_id"] for r in run.records["groups"]} == {sim.project_id}


def test_refused_project_stops_the_run_naming_stream_and_project(sim):
    # the key can read the second project only
    config = {**two_project_config(sim, sim.keys.other_project), "project_ids": [
        sim.other_project_id, sim.project_id,
    ]}  # fmt: skip
    run = run_tap(config, streams=["annotations"])
    assert run.returncode == 1
    assert run.last_stderr_line.startswith(
        f"tap-posthog: stream annotations, project {sim.project_id}: "
        f"no access to project {sim.project_id} (HTTP 403)"
    )
    assert "Traceback" not in run.stderr
    assert sim.keys.other_project not in run.stderr + run.stdout


def test_optional_stream_refused_in_one_project_is_logged_and_the_rest_loads(sim):
    config = {
        **two_project_config(sim, sim.keys.other_project),
        "project_ids": [sim.project_id, sim.other_project_id],
        "optional_streams": ["annotations", "group_types"],
    }
    run = run_tap(config, streams=["annotations", "group_types", "groups"])
    assert run.returncode == 0, run.stderr[-2000:]
    for stream in ("annotations", "group_types"):
        warning = f"skipping optional stream {stream}, project {sim.project_id}: no access"
        assert warning in run.stderr, stream
        assert {r["project_id"] for r in run.records[stream]} == {sim.other_project_id}
        assert_rows_equal(
            stream,
            run.records[stream],
            expected_rows(sim, stream, sim.other_project_id),
            sim.other_project_id,
        )
    # the refused project had no group types, so no groups were asked for there
    assert_rows_equal(
        "groups", run.records["groups"], sim.truth.records("groups", sim.other_project_id),
        sim.other_project_id,
    )  # fmt: skip


def test_missing_scope_names_stream_project_and_scope(sim):
    config = two_project_config(sim, sim.keys.missing_scope)
    run = run_tap(config, streams=["persons"])
    assert run.returncode == 1
    assert run.last_stderr_line == (
        f"tap-posthog: stream persons, project {sim.project_id}: personal API key is missing "
        "scope 'query:read' (HTTP 403); add it to the key's scopes"
    )
    optional = run_tap({**config, "optional_streams": ["persons"]}, streams=["persons", "cohorts"])
    assert optional.returncode == 0, optional.stderr[-2000:]
    assert "persons" not in optional.records
    for pid in (sim.project_id, sim.other_project_id):
        assert f"skipping optional stream persons, project {pid}: personal API key is " \
               "missing scope 'query:read'" in optional.stderr  # fmt: skip
        assert_rows_equal("cohorts", _of(optional, "cohorts", pid),
                          sim.truth.records("cohorts", pid), pid)  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"project_ids": [1, 2]}, "give project_id or project_ids, not both"),
        ({"project_id": None, "project_ids": []}, "project_ids must be a non-empty list"),
        ({"project_id": None, "project_ids": [3, "3"]}, "project_ids lists 3 more than once"),
        ({"project_id": None}, "project_id (or project_ids) is required"),
        ({"optional_streams": ["persons", "nope"]}, "optional_streams names unknown streams: nope"),
    ],
)
def test_project_settings_errors(sim, extra, message):
    config = {**tap_config(sim), **extra}
    config = {k: v for k, v in config.items() if v is not None}
    run = run_tap(config, streams=["projects"])
    assert run.returncode == 1
    assert run.last_stderr_line.startswith("tap-posthog: invalid config")
    assert message in run.last_stderr_line


def test_interrupted_run_resumes_each_project_from_its_own_cursor(sim):
    config = {**two_project_config(sim), "events_page_size": 1000}
    projects = (sim.project_id, sim.other_project_id)
    # stopped in the first project's second page: a checkpoint holds its cursor
    first = run_tap(config, streams=["events"], stop_after_records=1500)
    assert first.returncode != 0
    saved = first.state
    assert saved is not None
    part = _events_partitions(first)[sim.project_id]
    assert part["run"]["after_ts"]
    second = run_tap(config, streams=["events"], state=saved)
    assert second.returncode == 0, second.stderr[-2000:]
    seen = first.records_before_state[-1]
    emitted = first.records["events"][:seen] + second.records["events"]
    for pid in projects:
        ids = [key_of("events", r) for r in emitted if r["project_id"] == pid]
        assert set(ids) == set(sim.truth.ids("events", pid))
    resumed = [r for r in second.records["events"] if r["project_id"] == sim.project_id]
    assert len(resumed) < len(sim.truth.ids("events")), "the first project resumed, not restarted"
    for pid in projects:
        assert "run" not in _events_partitions(second)[pid]
