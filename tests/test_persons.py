"""Persons and person_distinct_ids through HogQL: whole rows equal the simulator's truth."""

from __future__ import annotations

import json

import pytest

from tap_posthog.distinct_ids import DistinctIdIndex, is_anonymous_id, ordered
from tap_posthog.keyset import KeysetQuery
from tap_posthog.persons import lookup_query, person_name
from tests.taprun import run_tap

PAGE = 100


def _config(sim, **extra):
    return {
        "personal_api_key": sim.api_key,
        "project_id": sim.project_id,
        "base_url": sim.base_url,
        **extra,
    }


def _by(rows, key):
    out = {}
    for row in rows:
        assert row[key] not in out, f"{row[key]} emitted twice"
        out[row[key]] = row
    return out


def _query_texts(sim):
    texts = []
    for record in sim.requests:
        if record.path.endswith("/query/") and record.body:
            texts.append(json.loads(record.body)["query"]["query"])
    return texts


@pytest.fixture(scope="module")
def person_run(session_sim):
    run = run_tap(
        _config(session_sim, persons_page_size=PAGE), streams=["persons", "person_distinct_ids"]
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.mark.parametrize(
    ("stream", "key"), [("persons", "id"), ("person_distinct_ids", "distinct_id")]
)
def test_whole_rows_equal_ground_truth(person_run, session_sim, stream, key):
    got = _by(person_run.records[stream], key)
    want = _by(session_sim.truth.records(stream), key)
    assert len(want) > 2 * PAGE  # several pages
    assert got == want


def test_every_distinct_id_of_a_person_maps_back_to_it(person_run):
    persons = person_run.records["persons"]
    mapping = {r["distinct_id"]: r["person_id"] for r in person_run.records["person_distinct_ids"]}
    assert sum(len(p["distinct_ids"]) for p in persons) == len(mapping)
    for person in persons:
        assert person["distinct_ids"]
        assert {mapping[d] for d in person["distinct_ids"]} == {person["id"]}


def test_persons_are_read_with_keyset_pages_never_offset(sim_factory):
    sim = sim_factory(n_persons=450, n_events=10, persons_hidden_ratio=0.0)
    run = run_tap(_config(sim, persons_page_size=PAGE), streams=["persons"])
    assert run.returncode == 0, run.stderr[-2000:]
    texts = _query_texts(sim)
    persons = [t for t in texts if "FROM persons" in t]
    pdi = [t for t in texts if "FROM person_distinct_ids" in t]
    assert not any("OFFSET" in t.upper() for t in texts)
    # one page per PAGE rows (the last one short), then one empty page that ends the read
    n_persons = len(sim.truth.records("persons"))
    n_distinct = len(sim.truth.records("person_distinct_ids"))
    assert n_persons >= 450
    assert (len(persons), len(pdi)) == (-(-n_persons // PAGE) + 1, -(-n_distinct // PAGE) + 1)
    assert sum("WHERE id > toUUID({after})" in t for t in persons) == len(persons) - 1
    assert not any("/persons/" in r.path for r in sim.requests)


def test_merge_moves_distinct_ids_on_the_next_run(sim):
    config = _config(sim, persons_page_size=PAGE)
    first = run_tap(config, streams=["persons", "person_distinct_ids"])
    assert first.returncode == 0, first.stderr[-2000:]
    persons = first.records["persons"]
    keep, gone = persons[3], persons[7]
    sim.data.merge_persons(keep["id"], gone["id"])
    second = run_tap(config, streams=["persons", "person_distinct_ids"])
    assert second.returncode == 0, second.stderr[-2000:]
    mapping = {r["distinct_id"]: r["person_id"] for r in second.records["person_distinct_ids"]}
    for distinct_id in gone["distinct_ids"] + keep["distinct_ids"]:
        assert mapping[distinct_id] == keep["id"]
    got = _by(second.records["persons"], "id")
    assert gone["id"] not in got
    assert set(got[keep["id"]]["distinct_ids"]) == set(keep["distinct_ids"] + gone["distinct_ids"])
    assert got == _by(sim.truth.records("persons"), "id")
    truth = sim.truth.records("person_distinct_ids")
    assert mapping == {r["distinct_id"]: r["person_id"] for r in truth}


@pytest.mark.parametrize(
    ("fault", "narrowed"),
    [
        ("query_timeout", True),  # 504, "...time limit..."
        ("query_timeout_default", True),  # 504, "...max execution time..."
        ("query_too_slow", True),  # 512
        ("query_memory", True),  # 513
        ("504", False),  # a gateway's HTML page
    ],
)
def test_a_page_over_the_time_limit_is_retried_smaller(sim_factory, fault, narrowed):
    sim = sim_factory(n_persons=300, n_events=10)
    sim.faults.script(r"/query/", [fault])
    run = run_tap(_config(sim, persons_page_size=400), streams=["person_distinct_ids"])
    assert run.returncode == 0, run.stderr[-2000:]
    # PostHog's JSON 504/512/513 shrinks the page; a gateway's HTML 504 is retried as it was
    assert ("retrying with 100 rows a page" in run.stderr) is narrowed
    got = _by(run.records["person_distinct_ids"], "distinct_id")
    assert got == _by(sim.truth.records("person_distinct_ids"), "distinct_id")
    limits = [int(t.rsplit("LIMIT ", 1)[1]) for t in _query_texts(sim)]
    assert limits[0] == 400
    assert set(limits[1:]) == ({100} if narrowed else {400})


# -- units ----------------------------------------------------------------------------


def test_keyset_page_text_and_values():
    query = KeysetQuery("persons", ("id", "created_at"), "id", key_cast="toUUID")
    first = query.page(None, 50_000)
    assert first["query"] == "SELECT id, created_at\nFROM persons\nORDER BY id ASC\nLIMIT 50000"
    assert first["values"] == {}
    later = query.page("0190a1b2-0000-7000-8000-000000000001", 99_999)
    assert "WHERE id > toUUID({after})" in later["query"]
    assert later["query"].endswith("LIMIT 50000")
    assert later["values"] == {"after": "0190a1b2-0000-7000-8000-000000000001"}


def test_lookup_query_passes_ids_as_values():
    query = lookup_query(["a-1", "b-2"])
    assert "person_id IN (toUUID({p0}), toUUID({p1}))" in query["query"]
    assert query["values"] == {"p0": "a-1", "p1": "b-2"}
    assert "LIMIT 50000" in query["query"]


def test_distinct_ids_order_and_person_name():
    anon = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    assert is_anonymous_id(anon)
    assert not is_anonymous_id("zoe@example.com")
    assert ordered([anon, "zoe@example.com", "bob"]) == ["bob", "zoe@example.com", anon]
    display = ("email", "name", "username")
    assert person_name({"name": "Zoë", "email": ""}, ["x"], "id", display) == "Zoë"
    assert person_name({"email": "a@b.c", "name": "Zoë"}, ["x"], "id", display) == "a@b.c"
    assert person_name({"username": 42}, ["x"], "id", display) == "42"
    assert person_name({}, ["bob", anon], "id", display) == "bob"
    assert person_name({}, [], "the-id", display) == "the-id"


def test_distinct_id_index_groups_by_person():
    index = DistinctIdIndex()
    try:
        index.add([("p1", "b"), ("p2", "c"), ("p1", "a")])
        index.add([("p1", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")])
        assert index.get("p1") == ["a", "b", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"]
        assert index.get("p2") == ["c"]
        assert index.get("p3") is None
    finally:
        index.close()
