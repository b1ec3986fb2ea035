"""REST streams: every id exactly once, compared with the simulator's ground truth."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.taprun import run_tap

REST_STREAMS = [
    "projects",
    "persons",
    "feature_flags",
    "cohorts",
    "event_definitions",
    "event_property_definitions",
    "person_property_definitions",
    "session_property_definitions",
    "annotations",
]


def _config(sim):
    return {"personal_api_key": sim.api_key, "project_id": sim.project_id, "base_url": sim.base_url}


@pytest.fixture(scope="module")
def full_run(session_sim):
    run = run_tap(_config(session_sim), streams=REST_STREAMS)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.mark.parametrize("stream", REST_STREAMS)
def test_stream_ids_equal_ground_truth(full_run, session_sim, stream):
    ids = full_run.ids(stream)
    assert ids, f"{stream} emitted nothing"
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes
    assert set(ids) == set(session_sim.truth.ids(stream))
    records = full_run.records[stream]
    assert all(r["project_id"] is not None for r in records)


def test_every_record_carries_project_id(full_run, session_sim):
    for stream in REST_STREAMS:
        for record in full_run.records[stream]:
            expected = record["id"] if stream == "projects" else session_sim.project_id
            assert record["project_id"] == expected


def test_projects_never_carry_secret_tokens(full_run):
    text = repr(full_run.records["projects"])
    assert "phs_" not in text
    assert "secret_api_token" not in text


def test_archived_flags_included_deleted_excluded(full_run, session_sim):
    flags = full_run.records["feature_flags"]
    assert any(f["archived"] for f in flags)
    assert not any(f["deleted"] for f in flags)


def test_property_definitions_carry_type_and_builtins(full_run):
    for kind in ("event", "person", "session"):
        records = full_run.records[f"{kind}_property_definitions"]
        assert {r["type"] for r in records} == {kind}
    person_ids = full_run.ids("person_property_definitions")
    assert any(str(i).startswith("$builtin_") for i in person_ids)


def test_datetimes_are_emitted_in_utc(full_run):
    for stream in REST_STREAMS:
        for record in full_run.records[stream]:
            for key in ("created_at", "updated_at", "last_seen_at"):
                value = record.get(key)
                if value is not None:
                    assert value.endswith("Z"), (stream, key, value)


def _by_id(rows):
    out = {}
    for row in rows:
        assert row["id"] not in out, f"{row['id']} emitted twice"
        out[row["id"]] = row
    return out


def test_persons_inserted_mid_pagination_are_not_duplicated_or_lost(sim_factory):
    """Persons created and deleted while both passes read (pages of 100): exact, whole rows."""
    sim = sim_factory(n_persons=600, n_events=10)
    config = {**_config(sim), "persons_page_size": 100}
    before = _by_id(sim.truth.records("persons"))
    existing = list(before)
    added: list[str] = []
    deleted: list[str] = []

    def mutate(request_number):
        # the distinct-id pass takes ~10 queries of 100 rows, then persons ~7
        if request_number in (3, 13, 16):
            added.extend(sim.data.add_persons(4))
            for person_id in existing[request_number::97][:3]:
                sim.data.delete_person(person_id)
                deleted.append(person_id)

    sim.hooks.before_page("query", mutate)
    run = run_tap(config, streams=["persons"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(added) == 12
    assert len(deleted) == 9
    got = _by_id(run.records["persons"])
    after = _by_id(sim.truth.records("persons"))
    # there for the whole read: exactly once, whole row as at the end
    stable = set(before) - set(deleted)
    assert {i: got[i] for i in stable} == {i: after[i] for i in stable}
    # created during the read: at most once, and then complete (distinct ids and name)
    for person_id in set(added) & set(got):
        assert got[person_id] == after[person_id]
    # deleted during the read: at most once, and then as it was
    for person_id in set(deleted) & set(got):
        assert got[person_id] == before[person_id]
    assert set(got) <= stable | set(added) | set(deleted)
    # changed during the distinct-id pass, before the persons pass: created ones are there
    # (distinct ids from the by-id lookup), deleted ones are not
    assert set(added[:4]) <= set(got)
    assert not set(deleted[:3]) & set(got)
    # the next run is exact
    rerun = run_tap(config, streams=["persons"])
    assert _by_id(rerun.records["persons"]) == after


def test_person_with_changed_properties_arrives_on_next_run(sim):
    config = _config(sim)
    first = run_tap(config, streams=["persons"])
    person_id = first.ids("persons")[5]
    before = next(r for r in first.records["persons"] if r["id"] == person_id)
    sim.data.update_person_properties(person_id)
    second = run_tap(config, streams=["persons"], state=first.state)
    after = next(r for r in second.records["persons"] if r["id"] == person_id)
    assert after["properties"] != before["properties"]
    assert _by_id(second.records["persons"]) == _by_id(sim.truth.records("persons"))
