"""omniload units: URI parsing and redaction, table map, intervals, relay, progress, env flags."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from omniload import cli, relay
from omniload.errors import RunError, UsageError
from omniload.ingest import Options, bookmark_of, make_plan
from omniload.interval import parse_interval
from omniload.progress import JsonReporter, LogReporter
from omniload.tables import TABLES, resolve_table
from omniload.uri import (
    DEFAULT_BASE_URL,
    DestTable,
    parse_dest_table,
    parse_dest_uri,
    parse_source_uri,
    redact,
)

KEY = "phx_unit_secret_key"


# --- source URI ---------------------------------------------------------------------------


def test_source_uri_full() -> None:
    src = parse_source_uri(
        f"posthog://?personal_api_key={KEY}&project_id=12345&base_url=https://eu.posthog.com/"
    )
    assert (src.api_key, src.project_id, src.base_url) == (KEY, "12345", "https://eu.posthog.com")
    assert src.host == "eu.posthog.com"
    assert KEY not in src.redacted()
    assert KEY not in repr(src)
    assert "personal_api_key=***" in src.redacted()


def test_source_uri_alias_default_and_env_key() -> None:
    src = parse_source_uri(f"posthog://?api_key={KEY}&project_id=7")
    assert src.api_key == KEY
    assert src.base_url == DEFAULT_BASE_URL
    assert parse_source_uri("posthog://?project_id=7", env_key=KEY).api_key == KEY
    # the URI's key wins over the environment
    assert parse_source_uri(f"posthog://?project_id=7&api_key={KEY}", env_key="x").api_key == KEY


@pytest.mark.parametrize(
    ("uri", "env_key", "message"),
    [
        ("", None, "--source-uri is required"),
        ("posthog:/x", None, "malformed source URI"),
        ("postgres://?project_id=1", KEY, "unsupported source scheme 'postgres'"),
        ("posthog://host?project_id=1", KEY, "malformed source URI"),
        (f"posthog://?personal_api_key={KEY}", None, "project_id is required"),
        ("posthog://?project_id=1", None, "missing PostHog personal API key"),
        ("posthog://?personal_api_key=&project_id=1", None, "key is empty"),
        ("posthog://?project_id=1", "  ", "key is empty"),
        (f"posthog://?api_key={KEY}&project_id=x1", None, "project_id must be a number"),
        (f"posthog://?api_key={KEY}&project_id=1&base_url=ftp://h", None, "base_url"),
        (f"posthog://?api_key={KEY}&project_id=1&foo=2", None, "unknown parameter"),
        (f"posthog://?api_key={KEY}&personal_api_key={KEY}&project_id=1", None, "not both"),
    ],
)
def test_source_uri_errors(uri: str, env_key: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        parse_source_uri(uri, env_key)
    assert KEY not in str(info.value)


def test_redact() -> None:
    text = f"GET /x?personal_api_key={KEY}&project_id=1 api_key={KEY} Bearer {KEY}"
    assert KEY not in redact(text, (KEY,))
    assert "personal_api_key=***" in redact(text)


# --- destination ----------------------------------------------------------------------------


def test_dest_uri() -> None:
    assert parse_dest_uri("duckdb:///data/x.duckdb") == Path("data/x.duckdb")
    assert parse_dest_uri("duckdb:////tmp/x.duckdb") == Path("/tmp/x.duckdb")
    for bad, msg in [
        ("postgres://u@h/db", "unsupported destination scheme 'postgres'"),
        ("duckdb://x.duckdb", "malformed destination URI"),
        ("duckdb:///", "malformed destination URI"),
        ("x.duckdb", "malformed destination URI"),
        ("", "--dest-uri is required"),
    ]:
        with pytest.raises(UsageError, match=msg):
            parse_dest_uri(bad)


def test_dest_table() -> None:
    assert parse_dest_table("posthog.events") == DestTable("posthog", "events")
    assert parse_dest_table("events") == DestTable("main", "events")
    for bad in ("a.b.c", ".x", "x.", "a-b", "_omniload.state", "1abc"):
        with pytest.raises(UsageError):
            parse_dest_table(bad)


# --- tables ---------------------------------------------------------------------------------


def test_table_map() -> None:
    assert set(TABLES) == {
        "persons", "person_distinct_ids", "feature_flags", "events", "cohorts", "event_definitions",
        "property_definitions:event", "property_definitions:person",
        "property_definitions:session", "annotations", "projects", "insights", "dashboards",
        "actions", "experiments", "surveys", "group_types", "groups", "session_recordings",
        "cohort_people", "sessions",
    }  # fmt: skip
    assert resolve_table("events").strategy == "append"
    assert resolve_table("persons").incremental_key is None
    assert resolve_table("person_distinct_ids").primary_key == ("project_id", "distinct_id")
    assert resolve_table("cohorts").incremental_key == "last_calculation"
    assert resolve_table("event_definitions").incremental_key == "last_updated_at"
    assert resolve_table("projects").incremental_key is None
    spec = resolve_table("property_definitions:session")
    assert spec.stream == "session_property_definitions"
    assert spec.default_dest_table == "property_definitions_session"
    # omniload merges on the tap's own key (project_id where an id repeats across projects)
    from tap_posthog.tap import TapPostHog

    catalog = TapPostHog(config={"personal_api_key": "x", "project_id": 1}).catalog_dict
    keys = {s["tap_stream_id"]: tuple(s["key_properties"]) for s in catalog["streams"]}
    assert {t.name: t.primary_key for t in TABLES.values()} == {
        t.name: keys[t.stream] for t in TABLES.values()
    }
    assert resolve_table("annotations").primary_key == ("project_id", "id")
    assert resolve_table("events").primary_key == ("project_id", "id")
    assert resolve_table("groups").primary_key == ("project_id", "group_type_index", "group_key")
    assert resolve_table("cohort_people").primary_key == ("cohort_id", "id")
    assert resolve_table("insights").incremental_key == "last_modified_at"
    assert resolve_table("person_distinct_ids").primary_key == ("project_id", "distinct_id")
    assert all(t.strategy == "merge" for t in TABLES.values() if t.name != "events")


def test_table_errors() -> None:
    with pytest.raises(UsageError, match="valid tables: actions, annotations, cohort_people"):
        resolve_table("users")
    with pytest.raises(UsageError, match="needs a suffix"):
        resolve_table("property_definitions")
    with pytest.raises(UsageError, match="needs a suffix"):
        resolve_table("property_definitions:group")


# --- intervals and plans --------------------------------------------------------------------


def test_interval_parsing() -> None:
    iv = parse_interval("2026-01-02", "2026-01-03T12:00:00+02:00")
    assert iv.start == datetime(2026, 1, 2, tzinfo=UTC)
    assert iv.end == datetime(2026, 1, 3, 10, tzinfo=UTC)
    assert parse_interval("2026-01-02 03:04:05", None).start == datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    assert not parse_interval(None, None).is_set
    with pytest.raises(UsageError, match="invalid --interval-start"):
        parse_interval("yesterday", None)
    with pytest.raises(UsageError, match="must be after"):
        parse_interval("2026-01-02", "2026-01-02")


def _opts(**kw) -> Options:
    base = {
        "source_uri": f"posthog://?personal_api_key={KEY}&project_id=5",
        "source_table": "events",
        "dest_uri": "duckdb:///x.duckdb",
    }
    base.update(kw)
    return Options(**base)


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("project_id=7", ("7",)),
        ("project_id=7,3", ("7", "3")),
        ("project_id=7&project_id=3", ("7", "3")),
        ("project_id=7, 3&project_id=12", ("7", "3", "12")),
    ],
)
def test_source_uri_lists_several_projects(query, ids) -> None:
    src = parse_source_uri(f"posthog://?personal_api_key={KEY}&{query}")
    assert src.project_ids == ids
    assert f"project_id={','.join(ids)}" in src.redacted()
    assert KEY not in src.redacted()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("project_id=7,", "project_id must be a number, got ''"),
        ("project_id=7,x", "project_id must be a number, got 'x'"),
        ("project_id=7&project_id=7", "project_id 7 is given more than once"),
        ("project_id=3,7,3", "project_id 3 is given more than once"),
    ],
)
def test_source_uri_project_list_errors(query, message) -> None:
    with pytest.raises(UsageError, match=message):
        parse_source_uri(f"posthog://?personal_api_key={KEY}&{query}")


def test_state_key_of_several_projects_ignores_their_order() -> None:
    one = make_plan(_opts(source_uri=f"posthog://?personal_api_key={KEY}&project_id=9,5"))
    other = make_plan(_opts(source_uri=f"posthog://?personal_api_key={KEY}&project_id=5&project_id=9"))
    assert one.source_key == other.source_key == "posthog://us.posthog.com/5,9/events"


def test_plan_defaults_and_overrides() -> None:
    plan = make_plan(_opts())
    assert (plan.strategy, str(plan.dest), plan.primary_key) == (
        "append", "main.events", ("project_id", "id"),
    )  # fmt: skip
    assert plan.source_key == "posthog://us.posthog.com/5/events"
    assert KEY not in json.dumps(plan.describe())
    assert plan.use_saved_state
    assert plan.saves_state
    plan = make_plan(_opts(source_table="persons", full_refresh=True, primary_key=["a,b"]))
    assert plan.strategy == "replace"
    assert plan.primary_key == ("a", "b")
    assert not plan.use_saved_state
    assert plan.saves_state
    plan = make_plan(_opts(interval_start="2026-01-01"))
    assert not plan.use_saved_state
    assert not plan.saves_state
    with pytest.raises(UsageError, match="cannot be combined"):
        make_plan(_opts(full_refresh=True, interval_start="2026-01-01"))
    with pytest.raises(UsageError, match="no incremental key"):
        make_plan(_opts(source_table="projects", interval_end="2026-01-01"))
    with pytest.raises(UsageError, match="incremental-strategy"):
        make_plan(_opts(incremental_strategy="upsert"))


def test_bookmark_of() -> None:
    state = {"bookmarks": {"events": {"replication_key_value": "2026-01-01T00:00:00Z"}}}
    assert bookmark_of(state, "events") == "2026-01-01T00:00:00Z"
    parts = {"bookmarks": {"p": {"partitions": [{"replication_key_value": "b"}, {}]}}}
    assert bookmark_of(parts, "p") == "b"
    assert bookmark_of(None, "events") is None
    assert bookmark_of({"bookmarks": {"projects": {}}}, "projects") is None


# --- relay ----------------------------------------------------------------------------------


def _lines(*messages: dict) -> bytes:
    return b"".join(json.dumps(m, separators=(",", ":")).encode() + b"\n" for m in messages)


SCHEMA_MSG = {
    "type": "SCHEMA",
    "stream": "events",
    "schema": {"properties": {"id": {"type": "string"}, "Uuid": {"type": "string"}}},
    "key_properties": ["id"],
}


def test_relay_counts_records_across_any_chunking() -> None:
    records = [{"type": "RECORD", "stream": "events", "record": {"id": str(i)}} for i in range(50)]
    state1 = {"type": "STATE", "value": {"bookmarks": {"events": {"replication_key_value": "1"}}}}
    state2 = {"type": "STATE", "value": {"bookmarks": {"events": {"replication_key_value": "2"}}}}
    data = _lines(SCHEMA_MSG, *records[:25], state1, *records[25:], state2) + b'{"type":"RECORD"'
    for size in (1, 7, 16, 100, len(data)):
        r = relay.Relay()
        out = b"".join(r.feed(data[i : i + size]) for i in range(0, len(data), size))
        out += r.finish()
        assert r.records == 51
        assert r.last_state == state2["value"]
        unkeyed = {**SCHEMA_MSG, "key_properties": []}
        assert out == data.replace(_lines(SCHEMA_MSG), _lines(unkeyed)) + b"\n"


def test_relay_ignores_nested_markers() -> None:
    nested = {"type": "RECORD", "stream": "e", "record": {"p": {"type": "STATE", "value": 1}}}
    r = relay.Relay()
    r.feed(_lines(nested))
    assert r.records == 1
    assert r.last_state is None


def test_relay_stages_without_a_key_and_checks_the_override() -> None:
    """The target gets no key (it would merge repeats away); --primary-key is checked here."""
    for key in (None, ("uuid",)):
        r = relay.Relay(primary_key=key)
        out = r.feed(_lines(SCHEMA_MSG, {"type": "RECORD", "stream": "events", "record": {}}))
        first = json.loads(out.splitlines()[0])
        assert first["key_properties"] == []
        assert first["schema"] == SCHEMA_MSG["schema"]
        assert r.records == 1
    with pytest.raises(RunError, match="not a column"):
        relay.Relay(primary_key=("nope",)).feed(_lines(SCHEMA_MSG))


def test_relay_space_separated_json() -> None:
    data = b'{"type": "RECORD", "stream": "e", "record": {}}\n{"type": "STATE", "value": {}}\n'
    r = relay.Relay()
    r.feed(data)
    assert r.records == 1
    assert r.last_state == {}


# --- progress -------------------------------------------------------------------------------


def test_json_reporter_lines() -> None:
    out = io.StringIO()
    rep = JsonReporter(out, io.StringIO())
    rep.start({"source": "posthog://?personal_api_key=***", "source_table": "events",
               "dest_table": "main.events", "strategy": "append"})  # fmt: skip
    rep.progress(10)
    rep.end({"rows": 10, "rows_loaded": 9, "duration": 1.0, "dest_table": "main.events",
             "bookmark": None})  # fmt: skip
    rep.error("boom")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [m["type"] for m in lines] == ["start", "progress", "end", "error"]
    assert {"rows", "rows_per_sec", "elapsed"} <= set(lines[1])


def test_log_reporter_summary() -> None:
    err = io.StringIO()
    rep = LogReporter(io.StringIO(), err)
    rep.progress(5)
    rep.end({"rows": 5, "rows_loaded": 5, "duration": 2.0, "dest_table": "main.x",
             "bookmark": "2026-01-01"})  # fmt: skip
    text = err.getvalue()
    assert "5 rows" in text
    assert "main.x" in text
    assert "2026-01-01" in text


# --- cli env handling -----------------------------------------------------------------------


def test_env_fallbacks() -> None:
    args = cli.build_parser().parse_args(["ingest"])
    env = {
        "OMNILOAD_SOURCE_URI": "posthog://?project_id=1",
        "OMNILOAD_SOURCE_TABLE": "persons",
        "OMNILOAD_FULL_REFRESH": "true",
        "OMNILOAD_PRIMARY_KEY": "id,distinct_id",
    }
    merged = cli.merge_env(args, env)
    assert merged.source_uri == "posthog://?project_id=1"
    assert merged.full_refresh is True
    assert merged.yes is False
    assert merged.primary_key == ["id,distinct_id"]
    given = cli.build_parser().parse_args(["ingest", "--source-table", "events"])
    flags = cli.merge_env(given, env)
    assert flags.source_table == "events"
    with pytest.raises(UsageError, match="OMNILOAD_YES"):
        cli.merge_env(cli.build_parser().parse_args(["ingest"]), {"OMNILOAD_YES": "maybe"})


def test_secrets_in() -> None:
    argv = ["ingest", "--source-uri", f"posthog://?api_key={KEY}&project_id=1"]
    assert KEY in cli.secrets_in(argv, {})
    assert "envkey123" in cli.secrets_in([], {"POSTHOG_PERSONAL_API_KEY": "envkey123"})
