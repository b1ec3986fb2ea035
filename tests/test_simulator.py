"""posthog_sim REST endpoints, envelopes, auth errors and ground truth, over real HTTP."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

import pytest
import requests

from posthog_sim import SimConfig, Simulator
from tests.helpers import api_session

LIST_FIELDS = {
    "id",
    "uuid",
    "organization",
    "api_token",
    "name",
    "completed_snippet_onboarding",
    "has_completed_onboarding_for",
    "ingested_event",
    "is_demo",
    "timezone",
    "access_control",
}
DRF_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")


def _get(sim, path, key=None, headers=None, **params):
    session = api_session(sim, key)
    return session.get(sim.base_url + path, params=params, headers=headers or {}, timeout=10)


def _walk(sim, path, **params):
    """Follow ``next`` links from the first page; return every page body."""
    session = api_session(sim)
    response = session.get(sim.base_url + path, params=params, timeout=10)
    pages = []
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json())
        if not pages[-1]["next"]:
            return pages
        assert len(pages) < 500
        response = session.get(pages[-1]["next"], timeout=10)


def _ids(pages):
    return [r["id"] for page in pages for r in page["results"]]


def _pp(sim, name):
    return f"/api/projects/{sim.project_id}/{name}/"


def test_projects_list_shape_and_truth(sim):
    body = _get(sim, "/api/projects/").json()
    assert body["count"] == 2
    assert body["next"] is None
    assert [p["id"] for p in body["results"]] == sorted([sim.project_id, sim.other_project_id])
    assert sim.truth.ids("projects") == [sim.project_id]
    for project in body["results"]:
        assert set(project) >= LIST_FIELDS
        assert project["api_token"].startswith("phc_")
        assert project["secret_api_token"].startswith("phs_")
        assert "secret_api_token_backup" in project
    main = next(p for p in body["results"] if p["id"] == sim.project_id)
    assert main["timezone"] == "America/Los_Angeles"


@pytest.mark.parametrize("path", ["/api/projects/", "/api/organizations/@current/projects/"])
def test_project_scoped_keys_are_refused_outside_project_routes(sim, path):
    """posthog/permissions.py APIScopePermission: scoped keys work on project routes only."""
    for key in (sim.keys.project_scoped, sim.keys.other_project):
        body = _error(_get(sim, path, key=key), 403, "authentication_error", "permission_denied")
        assert body["detail"] == (
            "API keys with scoped projects are only supported on project-based endpoints.")
    detail = _get(sim, f"/api/projects/{sim.project_id}/", key=sim.keys.project_scoped)
    assert detail.status_code == 200
    assert detail.json()["id"] == sim.project_id
    other = _error(_get(sim, f"/api/projects/{sim.other_project_id}/",
                        key=sim.keys.project_scoped), 403, "authentication_error",
                   "permission_denied")
    assert other["detail"] == (
        f"API key does not have access to the requested project: ID {sim.other_project_id}.")


def test_next_and_previous_links_are_absolute_and_keep_params(sim):
    path = _pp(sim, "feature_flags")
    first = _get(sim, path, archived="false", limit=5).json()
    assert first["previous"] is None
    assert first["next"] == f"{sim.base_url}{path}?archived=false&limit=5&offset=5"
    second = requests.get(
        first["next"], headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=10
    ).json()
    assert second["previous"] == f"{sim.base_url}{path}?archived=false&limit=5"
    third = _get(sim, path, archived="false", limit=5, offset=10).json()
    assert third["previous"] == f"{sim.base_url}{path}?archived=false&limit=5&offset=5"
    pages = _walk(sim, path, limit=7)
    assert pages[-1]["next"] is None
    assert sum(len(p["results"]) for p in pages) == pages[0]["count"]
    host = f"localhost:{sim.port}"
    other_host = _get(sim, path, limit=5, headers={"Host": host}).json()
    assert other_host["next"].startswith(f"http://{host}{path}?")


def test_persons_pages_are_short_or_empty_and_have_no_count(sim):
    pages = _walk(sim, _pp(sim, "persons"), limit=100)
    assert all("count" not in page for page in pages)
    assert any(page["results"] == [] and page["next"] for page in pages)
    assert any(0 < len(page["results"]) < 100 and page["next"] for page in pages)
    ids = _ids(pages)
    assert ids == [p["id"] for p in sim.truth.rest_persons()]
    assert len(ids) == sim.config.n_persons == len(set(ids))
    person = pages[0]["results"][0]
    assert person["type"] == "person"
    assert person["id"] == person["uuid"]
    assert person["matched_recordings"] == []
    assert person["value_at_data_point"] is None
    assert {
        "name",
        "distinct_ids",
        "properties",
        "is_identified",
        "created_at",
        "last_seen_at",
    } <= set(person)
    assert any(p["last_seen_at"] is None for page in pages for p in page["results"])
    created = [p["created_at"] for page in pages for p in page["results"]]
    assert created == sorted(created, reverse=True)
    total = _get(sim, _pp(sim, "persons"), include_total="true").json()
    assert total["count"] == sim.config.n_persons


def test_person_inserted_mid_pagination_shifts_pages(sim):
    before = [p["id"] for p in sim.truth.rest_persons()]
    boundary_visible = not sim.data.persons[49]["_hidden"]
    added = []
    sim.hooks.before_page(
        "persons", lambda n: added.extend(sim.data.add_persons(1)) if n == 2 else None
    )
    ids = _ids(_walk(sim, _pp(sim, "persons"), limit=50))
    assert len(added) == 1
    assert added[0] not in ids
    assert set(ids) == set(before)
    assert len(ids) - len(set(ids)) == (1 if boundary_visible else 0)
    assert sim.truth.rest_persons()[0]["id"] == added[0]


def test_feature_flags_archived_param(sim):
    path = _pp(sim, "feature_flags")
    default = _walk(sim, path, limit=10)
    archived = _walk(sim, path, archived="true", limit=10)
    active = _walk(sim, path, archived="false", limit=10)
    assert all(not f["archived"] for p in default for f in p["results"])
    assert all(f["archived"] for p in archived for f in p["results"])
    assert _ids(default) == _ids(active)
    assert _ids(archived)
    assert set(_ids(default)) | set(_ids(archived)) == set(sim.truth.ids("feature_flags"))
    deleted = {f["id"] for f in sim.data.flags if f["deleted"]}
    assert deleted
    assert not deleted & set(sim.truth.ids("feature_flags"))
    flag = default[0]["results"][0]
    assert isinstance(flag["id"], int)
    assert {
        "key",
        "name",
        "filters",
        "deleted",
        "active",
        "created_by",
        "created_at",
        "updated_at",
        "version",
        "tags",
        "status",
    } <= set(flag)
    created = [f["created_at"] for p in default for f in p["results"]]
    assert created == sorted(created, reverse=True)


def test_cohorts_exclude_deleted_and_have_nullable_last_calculation(sim):
    pages = _walk(sim, _pp(sim, "cohorts"), limit=4)
    assert _ids(pages) == sim.truth.ids("cohorts")
    rows = [c for p in pages for c in p["results"]]
    assert not any(c["deleted"] for c in rows)
    assert any(c["last_calculation"] is None for c in rows)
    assert any(c["last_calculation"] is not None for c in rows)
    assert len(rows) < sim.config.n_cohorts


def test_event_definitions_default_and_name_ordering(sim):
    path = _pp(sim, "event_definitions")
    default = _walk(sim, path, limit=25)
    assert _ids(default) == sim.truth.ids("event_definitions")
    by_name = [d["name"] for p in _walk(sim, path, ordering="name", limit=25) for d in p["results"]]
    assert by_name == sorted(by_name)
    assert len(by_name) == sim.config.n_event_definitions
    rows = [d for p in default for d in p["results"]]
    assert any(d["last_updated_at"] is None for d in rows)
    days = [d["last_seen_at"][:10] for d in rows if d["last_seen_at"]]
    assert days == sorted(days, reverse=True)


def test_property_definitions_types_and_builtins_on_last_page(sim):
    path = _pp(sim, "property_definitions")
    for kind in ("event", "person", "session"):
        pages = _walk(sim, path, type=kind, limit=20)
        if kind != "session":  # the session stream reads /sessions/property_definitions/
            assert _ids(pages) == sim.truth.ids(f"{kind}_property_definitions")
        else:
            assert len(_ids(pages)) == sim.config.n_session_properties
        assert all("type" not in r for p in pages for r in p["results"])
        assert all(
            "updated_at" in r
            for p in pages
            for r in p["results"]
            if not str(r["id"]).startswith("$builtin_")
        )
    person_pages = _walk(sim, path, type="person", limit=20)
    builtins = [r for r in person_pages[-1]["results"] if r["id"].startswith("$builtin_")]
    assert len(builtins) == 3
    assert all(b["virtual"] is True and b["id"] == f"$builtin_{b['name']}" for b in builtins)
    assert len(person_pages[-1]["results"]) > 20
    assert person_pages[0]["count"] == sim.config.n_person_properties + 3
    event_ids = sim.truth.ids("event_property_definitions")
    assert not any(str(i).startswith("$builtin_") for i in event_ids)
    assert _get(sim, path).json()["count"] == sim.config.n_event_properties
    assert _get(sim, path, type="nope").status_code == 400


def test_annotations_include_organization_scoped_ones_from_every_project(sim):
    main = _get(sim, _pp(sim, "annotations")).json()
    assert main["next"] is None
    assert main["count"] == len(main["results"])
    assert [a["id"] for a in main["results"]] == sim.truth.ids("annotations")
    other = _get(sim, f"/api/projects/{sim.other_project_id}/annotations/").json()
    assert [a["id"] for a in other["results"]] == sim.truth.ids("annotations", sim.other_project_id)
    org_main = {a["id"] for a in main["results"] if a["scope"] == "organization"}
    org_other = {a["id"] for a in other["results"] if a["scope"] == "organization"}
    assert org_main == org_other
    origin = {pid: {a["id"] for a in rows} for pid, rows in sim.data.annotations.items()}
    assert org_main & origin[sim.project_id]
    assert org_main & origin[sim.other_project_id]
    markers = [a["date_marker"] for a in main["results"]]
    assert markers == sorted(markers, reverse=True)
    new_id = sim.data.add_annotation(
        "deploy", scope="organization", project_id=sim.other_project_id
    )
    assert new_id in sim.truth.ids("annotations")
    assert new_id in [a["id"] for a in _get(sim, _pp(sim, "annotations")).json()["results"]]


def test_rest_datetimes_render_like_drf(sim):
    rows = [p for page in _walk(sim, _pp(sim, "persons")) for p in page["results"]]
    stamps = [p["created_at"] for p in rows]
    stamps += [p["last_seen_at"] for p in rows if p["last_seen_at"]]
    assert all(DRF_DATETIME.match(s) for s in stamps)
    assert any("." in s for s in stamps)
    assert any("." not in s for s in stamps)


def test_mutations_change_records_the_way_posthog_does(sim):
    person = sim.truth.rest_persons()[3]
    sim.data.update_person_properties(person["id"])
    after = next(p for p in sim.truth.rest_persons() if p["id"] == person["id"])
    assert after["properties"] != person["properties"]
    assert after["last_seen_at"] == person["last_seen_at"]
    flag = sim.truth.records("feature_flags")[0]
    sim.data.touch_feature_flag(flag["id"])
    changed = next(
        f for f in _get(sim, _pp(sim, "feature_flags")).json()["results"] if f["id"] == flag["id"]
    )
    assert changed["updated_at"] > (flag["updated_at"] or "")
    assert changed["version"] == flag["version"] + 1


def test_same_seed_gives_same_truth_and_other_seed_differs():
    anchor = datetime(2026, 1, 15, 12, 0, 0)
    streams = (
        "projects",
        "persons",
        "feature_flags",
        "events",
        "cohorts",
        "event_definitions",
        "event_property_definitions",
        "person_property_definitions",
        "session_property_definitions",
        "annotations",
    )
    first = Simulator(SimConfig(seed=3, anchor=anchor, n_events=300, tie_groups=((50, 1),)))
    second = Simulator(SimConfig(seed=3, anchor=anchor, n_events=300, tie_groups=((50, 1),)))
    third = Simulator(SimConfig(seed=4, anchor=anchor, n_events=300, tie_groups=((50, 1),)))
    for stream in streams:
        assert first.truth.records(stream) == second.truth.records(stream), stream
    assert first.truth.ids("events") != third.truth.ids("events")
    assert first.api_key == second.api_key != third.api_key
    assert re.fullmatch(r"phx_sim_[0-9a-f]{40}", first.api_key)
    for simulator in (first, second, third):
        simulator.close()


# ------------------------------------------------------------------------------ errors


def _error(response, status, type_, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"type", "code", "detail", "attr"}
    assert (body["type"], body["code"]) == (type_, code)
    return body


def test_401_bodies(sim):
    bad = _get(sim, _pp(sim, "cohorts"), key="phx_not_a_key")
    body = _error(bad, 401, "authentication_error", "authentication_failed")
    assert body["detail"] == "Personal API key found in request Authorization header is invalid."
    assert body["attr"] is None
    assert bad.headers["WWW-Authenticate"].startswith("Bearer")
    missing = requests.get(sim.base_url + _pp(sim, "cohorts"), timeout=10)
    body = _error(missing, 401, "authentication_error", "not_authenticated")
    assert body["detail"] == "Authentication credentials were not provided."
    basic = requests.get(sim.base_url + _pp(sim, "cohorts"), auth=("user", "pw"), timeout=10)
    _error(basic, 401, "authentication_error", "not_authenticated")


def test_403_bodies(sim):
    scope = _error(
        _get(sim, _pp(sim, "persons"), key=sim.keys.missing_scope),
        403,
        "authentication_error",
        "permission_denied",
    )
    assert scope["detail"] == "API key missing required scope 'person:read'"
    query = api_session(sim, sim.keys.missing_scope).post(
        sim.base_url + _pp(sim, "query"),
        json={"query": {"kind": "HogQLQuery", "query": "SELECT 1 FROM events"}},
        timeout=10,
    )
    assert _error(query, 403, "authentication_error", "permission_denied")["detail"] == (
        "API key missing required scope 'query:read'"
    )
    assert _get(sim, _pp(sim, "cohorts"), key=sim.keys.missing_scope).status_code == 200
    other = _error(
        _get(sim, _pp(sim, "cohorts"), key=sim.keys.other_project),
        403,
        "authentication_error",
        "permission_denied",
    )
    assert other["detail"] == (
        f"API key does not have access to the requested project: ID {sim.project_id}."
    )
    assert (
        _get(
            sim, f"/api/projects/{sim.other_project_id}/annotations/", key=sim.keys.other_project
        ).status_code
        == 200
    )
    foreign = _error(
        _get(sim, f"/api/projects/{sim.forbidden_project_id}/cohorts/"),
        403,
        "authentication_error",
        "permission_denied",
    )
    assert foreign["detail"] == "You don't have access to the project."


def test_404_and_400_bodies(sim):
    project = _error(
        _get(sim, "/api/projects/987654321/cohorts/"), 404, "invalid_request", "not_found"
    )
    assert project["detail"] == "Project not found."
    endpoint = _error(
        _get(sim, f"/api/projects/{sim.project_id}/nothing_here/"),
        404,
        "invalid_request",
        "not_found",
    )
    assert endpoint["detail"] == "Endpoint not found."
    bad_limit = _error(
        _get(sim, _pp(sim, "cohorts"), limit="ten"), 400, "validation_error", "invalid_input"
    )
    assert bad_limit["attr"] == "limit"
    _error(_get(sim, _pp(sim, "persons"), offset="-1"), 400, "validation_error", "invalid_input")
    assert _get(sim, f"/api/projects/{sim.project_id}/cohorts").status_code == 200
    assert _get(sim, "/api/projects/@current/cohorts/").json()["count"] == len(
        sim.truth.ids("cohorts")
    )


def test_personal_api_key_query_param_is_honoured_but_logged(sim):
    sim.requests.clear()
    response = requests.get(
        sim.base_url + _pp(sim, "cohorts"), params={"personal_api_key": sim.api_key}, timeout=10
    )
    assert response.status_code == 200
    record = sim.requests[-1]
    assert record.auth_source == "query string"
    assert record.query["personal_api_key"] == [sim.api_key]
    assert "Authorization" not in record.headers
    _get(sim, _pp(sim, "cohorts"))
    assert sim.requests[-1].headers["Authorization"] == f"Bearer {sim.api_key}"
    assert sim.requests[-1].auth_source == "Authorization header"
    assert Counter(r.status for r in sim.requests) == {200: 2}
