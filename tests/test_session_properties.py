"""Session property definitions come from /sessions/property_definitions/."""

from __future__ import annotations

from tests.helpers import api_session
from tests.taprun import run_tap


def _path(sim):
    return f"{sim.base_url}/api/projects/{sim.project_id}/sessions/property_definitions/"


def test_simulator_lists_session_properties_unpaginated_from_the_sessions_schema(sim):
    body = api_session(sim).get(_path(sim), timeout=10).json()
    assert set(body) == {"count", "results"}
    assert body["count"] == len(body["results"])
    names = [row["name"] for row in body["results"]]
    # Hidden by get_lazy_session_table_properties_v3; listed ones keep the schema's order.
    assert not {"session_id", "distinct_id", "$urls", "duration", "max_inserted_at"} & set(names)
    assert names.index("$start_timestamp") < names.index("$session_duration")
    by_name = {row["name"]: row for row in body["results"]}
    assert by_name["$session_duration"]["property_type"] == "Duration"
    assert by_name["$session_duration"]["is_numerical"] is True
    assert by_name["$start_timestamp"]["property_type"] == "DateTime"
    assert by_name["$is_bounce"]["property_type"] == "Boolean"
    assert by_name["$entry_gclid"]["property_type"] == "String"
    assert all(row["id"] == row["name"] and row["tags"] == [] for row in body["results"])
    numeric = api_session(sim).get(_path(sim), params={"is_numerical": "true"}, timeout=10).json()
    assert {row["name"] for row in numeric["results"]} == {
        n for n, row in by_name.items() if row["is_numerical"]
    }
    search = api_session(sim).get(_path(sim), params={"search": "utm source"}, timeout=10).json()
    assert [row["name"] for row in search["results"]] == ["$entry_utm_source"]


def test_the_endpoint_needs_query_read(sim):
    response = api_session(sim, sim.keys.missing_scope).get(_path(sim), timeout=10)
    assert response.status_code == 403
    assert response.json()["detail"] == "API key missing required scope 'query:read'"


def test_stream_emits_every_session_property_as_the_server_lists_it(sim):
    config = {
        "personal_api_key": sim.api_key,
        "project_id": sim.project_id,
        "base_url": sim.base_url,
    }
    run = run_tap(config, streams=["session_property_definitions"])
    assert run.returncode == 0, run.stderr[-2000:]
    truth = sim.truth.records("session_property_definitions")
    expected = [{**row, "type": "session", "project_id": sim.project_id} for row in truth]
    assert sorted(run.records["session_property_definitions"], key=lambda r: r["id"]) == sorted(
        expected, key=lambda r: r["id"]
    )
    assert [r.path for r in sim.requests] == [
        f"/api/projects/{sim.project_id}/sessions/property_definitions/"
    ]


def test_a_key_without_query_read_names_the_stream_and_scope(sim):
    config = {
        "personal_api_key": sim.keys.missing_scope,
        "project_id": sim.project_id,
        "base_url": sim.base_url,
    }
    run = run_tap(config, streams=["session_property_definitions"])
    assert run.returncode == 1
    assert run.last_stderr_line == (
        f"tap-posthog: stream session_property_definitions, project {sim.project_id}: "
        "personal API key is missing scope "
        "'query:read' (HTTP 403); add it to the key's scopes"
    )
