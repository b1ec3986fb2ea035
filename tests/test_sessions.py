"""The HogQL sessions stream: keyset pages, whole rows, sessions that grow between runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from posthog_sim import SimConfig, Simulator
from tap_posthog.timeutil import parse_datetime
from tests.further import _normal
from tests.helpers import tap_config
from tests.projects import two_project_config
from tests.taprun import run_tap

PAGE = {"events_page_size": 1000}


def expected_sessions(sim, project_id: int) -> dict[str, dict]:
    """HogQL ``sessions`` rows of the project, by session id, as the tap names them."""
    rows = sim.truth.records("sessions", project_id)
    return {r["session_id"]: {**r, "project_id": project_id} for r in rows}


def _comparable(record: dict) -> dict:
    # ``$urls`` is groupUniqArray: ClickHouse gives no order, so compare it as a set
    return _normal({**record, "urls": sorted(record["urls"] or [])})


def assert_sessions_equal(emitted: list[dict], want: dict[str, dict]) -> None:
    ids = [r["session_id"] for r in emitted]
    assert len(ids) == len(set(ids)), "a session was emitted twice"
    assert set(ids) == set(want)
    for record in emitted:
        assert _comparable(record) == _comparable(want[record["session_id"]]), record["session_id"]


@pytest.fixture(scope="module")
def big_sim():
    simulator = Simulator(SimConfig(seed=3, n_events=6000)).start()
    try:
        yield simulator
    finally:
        simulator.close()


def test_keyset_pages_read_every_session_of_both_projects_once(big_sim):
    sim = big_sim
    run = run_tap({**two_project_config(sim), **PAGE}, streams=["sessions"])
    assert run.returncode == 0, run.stderr[-3000:]
    main = expected_sessions(sim, sim.project_id)
    assert len(main) > PAGE["events_page_size"], "the test needs more than one page"
    for pid in (sim.project_id, sim.other_project_id):
        emitted = [r for r in run.records["sessions"] if r["project_id"] == pid]
        assert_sessions_equal(emitted, expected_sessions(sim, pid))
    queries = [r for r in sim.requests if r.path == f"/api/projects/{sim.project_id}/query/"]
    texts = [r.body.decode() for r in queries]
    assert len(texts) >= 2
    assert all("OFFSET" not in t.upper() for t in texts)
    assert "after_ts" in texts[-1]
    # ties on the start time: sessions sharing one start straddle the keyset safely
    starts = [r["start_timestamp"] for r in main.values()]
    assert len(starts) > len(set(starts))


def test_sessions_that_grow_are_read_again_and_replaced(sim):
    config = {**two_project_config(sim), **PAGE}
    first = run_tap(config, streams=["sessions"])
    assert first.returncode == 0, first.stderr[-3000:]
    projects = (sim.project_id, sim.other_project_id)
    grown, new_events = {}, {}
    for pid in projects:
        sessions = expected_sessions(sim, pid)
        bookmark = max(parse_datetime(r["start_timestamp"]) for r in sessions.values())
        floor = bookmark - timedelta(hours=20)
        recent = [r for r in sessions.values() if parse_datetime(r["start_timestamp"]) > floor]
        target = min(recent, key=lambda r: r["start_timestamp"])
        end = parse_datetime(target["end_timestamp"])
        new_events[pid] = sim.data.grow_session(
            target["session_id"], 5, start=end + timedelta(minutes=1),
            end=end + timedelta(minutes=9), project_id=pid,
        )  # fmt: skip
        grown[pid] = target
    second = run_tap(config, streams=["sessions"], state=first.state)
    assert second.returncode == 0, second.stderr[-3000:]
    for pid in projects:
        want = expected_sessions(sim, pid)
        before = grown[pid]
        after = want[before["session_id"]]
        assert after["end_timestamp"] > before["end_timestamp"]
        assert after["session_duration"] > before["session_duration"]
        assert after["max_inserted_at"] > before["max_inserted_at"]
        assert after["start_timestamp"] == before["start_timestamp"]
        emitted = [r for r in second.records["sessions"] if r["project_id"] == pid]
        assert len(emitted) < len(want) // 2, "the second run should re-read recent sessions only"
        again = {r["session_id"]: r for r in emitted}
        assert _comparable(again[before["session_id"]]) == _comparable(after)
        # downstream: rows of the second run replace those of the first (key session_id)
        merged = {r["session_id"]: r for r in first.records["sessions"] if r["project_id"] == pid}
        merged.update(again)
        assert_sessions_equal(list(merged.values()), want)
        # the bookmark is per project, and never moves back
        partitions = {p["context"]["project_id"]: p for p in
                      second.state["bookmarks"]["sessions"]["partitions"]}  # fmt: skip
        assert partitions[pid]["replication_key_value"] == max(
            r["start_timestamp"] for r in want.values()
        )


def test_one_project_sessions_state_is_unpartitioned(sim):
    run = run_tap({**tap_config(sim), **PAGE}, streams=["sessions"])
    assert run.returncode == 0, run.stderr[-3000:]
    assert_sessions_equal(run.records["sessions"], expected_sessions(sim, sim.project_id))
    state = run.state["bookmarks"]["sessions"]
    assert "partitions" not in state
    assert state["replication_key_value"]
