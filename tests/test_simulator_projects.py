"""The simulator's second project: its own rows in every table, over real HTTP."""

from __future__ import annotations

import pytest

from posthog_sim.truth import STREAMS
from tests.helpers import api_session

#: Postgres ids from one sequence per table, shared by every project (as in PostHog).
GLOBAL_IDS = ("feature_flags", "cohorts", "insights", "dashboards", "actions", "experiments")


@pytest.mark.parametrize("stream", [s for s in STREAMS if s != "projects"])
def test_both_projects_have_rows_and_they_differ(session_sim, stream):
    main = session_sim.truth.ids(stream)
    other = session_sim.truth.ids(stream, session_sim.other_project_id)
    assert main
    assert other
    if stream in GLOBAL_IDS or stream in ("events", "persons", "session_recordings"):
        assert not set(main) & set(other)
    assert session_sim.truth.ids(stream, session_sim.forbidden_project_id) == []


def test_second_project_lists_its_own_rows(session_sim):
    sim, session = session_sim, api_session(session_sim)
    pid = sim.other_project_id
    body = session.get(f"{sim.base_url}/api/projects/{pid}/insights/",
                       params={"basic": "true", "limit": 1000}, timeout=10).json()  # fmt: skip
    assert [r["id"] for r in body["results"]] == sim.truth.ids("insights", pid)
    groups = session.get(f"{sim.base_url}/api/projects/{pid}/groups_types/", timeout=10).json()
    assert [g["group_type_index"] for g in groups] == sim.truth.ids("group_types", pid)


def test_second_project_events_in_utc_and_mutable(sim):
    pid, session = sim.other_project_id, api_session(sim)
    query = {"kind": "HogQLQuery", "query": "SELECT uuid, timestamp FROM events ORDER BY "
             "timestamp ASC, uuid ASC LIMIT 50000"}  # fmt: skip
    url = f"{sim.base_url}/api/projects/{pid}/query/"
    rows = session.post(url, json={"query": query}, timeout=30).json()["results"]
    assert [r[0] for r in rows] == sim.truth.ids("events", pid)
    assert all(r[1].endswith(("Z", "+00:00")) for r in rows)  # rendered in the project's UTC
    main_before = len(sim.truth.ids("events"))
    sim.data.add_events(3, start=sim.data.anchor.replace(year=2020),
                        end=sim.data.anchor.replace(year=2021), project_id=pid)  # fmt: skip
    rows = session.post(url, json={"query": query}, timeout=30).json()["results"]
    assert len(rows) == len(sim.truth.ids("events", pid))
    assert len(sim.truth.ids("events")) == main_before
