"""Events with the person's properties at ingestion (``events_person_properties``, HogQL
``person.properties``): whole rows against the ground truth, off by default, no join."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import duckdb

from tests.further import assert_rows_equal
from tests.helpers import api_session
from tests.taprun import run_tap
from tests.test_omniload_e2e import OMNILOAD, _env


def _config(sim, **extra):
    return {
        "personal_api_key": sim.api_key,
        "project_id": str(sim.project_id),
        "base_url": sim.base_url,
        "events_page_size": 1000,
        **extra,
    }


def _page_queries(sim):
    """HogQL texts of the events pages the simulator received (count probes left out)."""
    texts = []
    for request in sim.requests:
        if request.method == "POST" and request.path.endswith("/query/"):
            text = json.loads(request.body)["query"]["query"]
            if text.startswith("SELECT uuid"):
                texts.append(text)
    return texts


def _events_schema(run):
    for line in run.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "SCHEMA" and message["stream"] == "events":
            return message["schema"]
    raise AssertionError("no SCHEMA message for events")


def _change_every_person(sim):
    for person in list(sim.data.persons):
        if not person["_hidden"]:
            sim.data.update_person_properties(person["id"])


def test_with_the_setting_every_event_row_equals_the_truth_with_person_properties(sim):
    before = set(sim.truth.ids("events"))
    _change_every_person(sim)
    now = datetime.now(UTC)
    after = set(sim.data.add_events(300, start=now - timedelta(hours=2), end=now))
    run = run_tap(_config(sim, events_person_properties=True), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records["events"]
    truth = sim.truth.events_with_person_properties()
    assert_rows_equal("events", records, truth, sim.project_id)
    assert all(isinstance(r["person_properties"], dict) for r in records)
    # The properties are those at ingestion: events ingested before the change keep the old
    # ones, events ingested after it carry the new ones, which are the persons' current ones.
    emitted = {r["id"]: r for r in records}
    assert all("updated_n" not in emitted[i]["person_properties"] for i in before)
    current = {p["id"]: p["properties"] for p in sim.truth.records("persons")}
    for event_id in after:
        record = emitted[event_id]
        assert record["person_properties"]["updated_n"] == 1
        assert record["person_properties"] == current[record["person_id"]]
    pages = _page_queries(sim)
    assert pages
    assert all("person.properties AS person_properties" in q for q in pages)


def test_off_by_default_the_query_names_no_person_field_and_the_column_stays_empty(sim):
    _change_every_person(sim)
    run = run_tap(_config(sim), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records["events"]
    assert_rows_equal("events", records, sim.truth.records("events"), sim.project_id)
    assert not any("person_properties" in r for r in records)
    # The column exists either way (NULL while the setting is off).
    schema = _events_schema(run)
    assert schema["properties"]["person_properties"]["type"] == ["object", "null"]
    pages = _page_queries(sim)
    assert pages
    assert not any("person." in q or "person_properties" in q for q in pages)


def test_setting_false_is_the_same_as_absent(sim):
    run = run_tap(_config(sim, events_person_properties=False), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert not any("person_properties" in r for r in run.records["events"])
    assert not any("person." in q for q in _page_queries(sim))


def _query(sim, text):
    body = {"query": {"kind": "HogQLQuery", "query": text}, "refresh": "force_blocking"}
    response = api_session(sim).post(
        f"{sim.base_url}/api/projects/{sim.project_id}/query/", json=body, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_simulator_reads_person_properties_from_the_events_row_without_a_join(sim):
    body = _query(
        sim,
        "SELECT uuid, person.properties AS pp, person.properties.plan, person.id FROM events "
        "ORDER BY timestamp ASC, uuid ASC LIMIT 500",
    )
    sql = body["clickhouse"]
    assert "events.person_properties AS pp" in sql
    assert "JSONExtractRaw(events.person_properties, 'plan')" in sql
    assert "JOIN" not in sql.upper()
    assert body["columns"] == ["uuid", "pp", "plan", "id"]
    truth = {r["id"]: r for r in sim.truth.events_with_person_properties()}
    assert len(body["results"]) == 500
    for uuid, text, plan, person_id in body["results"]:
        assert isinstance(text, str)  # a JSON string, like ``properties``
        expected = truth[uuid]
        assert json.loads(text) == expected["person_properties"]
        assert plan == expected["person_properties"].get("plan")
        assert person_id == expected["person_id"]


def test_simulator_refuses_an_unknown_person_field(sim):
    body = {"query": {"kind": "HogQLQuery", "query": "SELECT person.nope FROM events LIMIT 1"}}
    response = api_session(sim).post(
        f"{sim.base_url}/api/projects/{sim.project_id}/query/", json=body, timeout=30
    )
    assert response.status_code == 400
    assert "person.nope" in response.text


def _omniload(sim, db, flag):
    """``omniload ingest`` of events with ``events_person_properties=<flag>`` in the URI."""
    uri = (f"posthog://?personal_api_key={sim.api_key}&project_id={sim.project_id}"
           f"&base_url={sim.base_url}&events_person_properties={flag}")  # fmt: skip
    return subprocess.run(
        [OMNILOAD, "ingest", "--source-uri", uri, "--source-table", "events",
         "--dest-uri", f"duckdb:///{db}", "--progress", "json", "--yes"],
        env=_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=170,
        check=False,
    )  # fmt: skip


def test_omniload_loads_person_properties_when_the_uri_asks(sim, tmp_path):
    db = tmp_path / "out.duckdb"
    proc = _omniload(sim, db, "true")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sim.api_key not in proc.stdout + proc.stderr
    assert "events_person_properties=true" in json.loads(proc.stdout.splitlines()[0])["source"]
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT id, person_properties FROM main.events").fetchall()
    want = {r["id"]: r["person_properties"] for r in sim.truth.events_with_person_properties()}
    got = {str(i): (json.loads(p) if p is not None else None) for i, p in rows}
    assert got == want
    assert any(want.values())


def test_omniload_refuses_a_non_boolean_person_properties_parameter(sim, tmp_path):
    proc = _omniload(sim, tmp_path / "x.duckdb", "maybe")
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "events_person_properties must be true or false" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x.duckdb").exists()
