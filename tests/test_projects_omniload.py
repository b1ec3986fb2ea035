"""omniload with several projects in one source URI: whole rows and state per project."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from omniload.tables import TABLES
from posthog_sim import SimConfig, Simulator
from tests.further import _normal
from tests.projects import expected_rows
from tests.test_omniload_e2e import OMNILOAD, _env


@pytest.fixture(scope="module")
def two_sim():
    simulator = Simulator(SimConfig(seed=11)).start()
    try:
        yield simulator
    finally:
        simulator.close()


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("two") / "both.duckdb"


def _both(sim: Simulator) -> str:
    return f"project_id={sim.project_id},{sim.other_project_id}"


def run_both(sim: Simulator, table: str, db: Path, query: str) -> list[dict]:
    """``omniload ingest`` of ``table`` with the projects in ``query``; the JSON messages."""
    uri = f"posthog://?personal_api_key={sim.api_key}&{query}&base_url={sim.base_url}"
    proc = subprocess.run(
        [OMNILOAD, "ingest", "--source-uri", uri, "--source-table", table,
         "--dest-uri", f"duckdb:///{db}", "--progress", "json", "--yes"],
        env=_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=170,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sim.api_key not in proc.stdout + proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def dest_rows(db: Path, table: str) -> list[dict[str, Any]]:
    """The destination table's rows: JSON columns parsed, timestamps as UTC instants."""
    with duckdb.connect(str(db), read_only=True) as con:
        types = dict(con.execute(f"SELECT column_name, data_type FROM duckdb_columns() "
                                 f"WHERE table_name = '{table}'").fetchall())  # fmt: skip
        cursor = con.execute(f"SELECT * FROM main.{table}")
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    out = []
    for row in rows:
        record = {}
        for name, value in zip(names, row, strict=True):
            if value is not None and types[name] == "JSON":
                value = json.loads(value)
            elif isinstance(value, datetime):
                value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
            record[name] = value
        out.append(record)
    return out


def assert_table_exact(sim: Simulator, table: str, rows: list[dict[str, Any]]) -> None:
    """Each project's rows equal its ground truth, whole rows, once each."""
    spec = TABLES[table]
    key = spec.primary_key
    keys = [tuple(r[k] for k in key) for r in rows]
    assert len(keys) == len(set(keys)), f"{table}: duplicate keys"
    if spec.stream == "projects":  # each configured project's detail route
        wanted = [
            {**r, "project_id": r["id"]}
            for pid in (sim.project_id, sim.other_project_id)
            for r in expected_rows(sim, "projects", pid)
        ]
    else:
        wanted = [
            {**r, "project_id": pid}
            for pid in (sim.project_id, sim.other_project_id)
            for r in expected_rows(sim, spec.stream, pid)
        ]
    by_key = {tuple(w[k] for k in key): w for w in wanted}
    assert set(keys) == set(by_key), f"{table}: keys differ"
    for row in rows:
        want = by_key[tuple(row[k] for k in key)]
        assert set(want) <= set(row), f"{table}: columns missing {set(want) - set(row)}"
        expected = {name: _normal(_as_stored(want.get(name))) for name in row}
        assert _normal(row) == expected, (table, tuple(row[k] for k in key))


def _as_stored(value: Any) -> Any:
    """A value as the guarded target stores it: unchanged (empty strings stay empty strings)."""
    return value


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_table_of_both_projects(two_sim, db, table):
    messages = run_both(two_sim, table, db, _both(two_sim))
    rows = dest_rows(db, TABLES[table].default_dest_table)
    assert_table_exact(two_sim, table, rows)
    assert messages[-1]["rows_loaded"] == len(rows)
    if table != "projects":
        assert {r["project_id"] for r in rows} == {two_sim.project_id, two_sim.other_project_id}


def _state(db: Path, table: str) -> tuple[str, dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT source_key, state FROM _omniload.state WHERE dest_table = ?",
            [f"main.{TABLES[table].default_dest_table}"],
        ).fetchall()
    assert len(rows) == 1
    return rows[0][0], json.loads(rows[0][1])


def test_second_run_is_incremental_for_both_projects(two_sim, tmp_path):
    sim, data, db = two_sim, two_sim.data, tmp_path / "again.duckdb"
    projects = (sim.project_id, sim.other_project_id)
    for table in ("events", "insights"):
        run_both(sim, table, db, _both(sim))
    source_key, state = _state(db, "events")
    low, high = sorted(projects)
    assert source_key == f"posthog://{sim.base_url.split('://')[1]}/{low},{high}/events"
    partitions = state["bookmarks"]["events"]["partitions"]
    assert [p["context"] for p in partitions] == [{"project_id": pid} for pid in projects]
    now = datetime.now(UTC).replace(microsecond=0)
    new = []
    for pid in projects:
        new += data.add_events(9, start=now - timedelta(hours=2), end=now - timedelta(hours=1),
                               project_id=pid)  # fmt: skip
    first_rows = len(dest_rows(db, "events"))
    # the same projects, written the other way: the same saved state
    messages = run_both(sim, "events", db, f"project_id={high}&project_id={low}")
    assert messages[-1]["rows_loaded"] == len(new)
    assert messages[-1]["rows"] < first_rows // 4
    assert_table_exact(sim, "events", dest_rows(db, "events"))
    _, after = _state(db, "events")
    ends = {p["context"]["project_id"]: p["window_end"] for p in partitions}
    for part in after["bookmarks"]["events"]["partitions"]:
        assert part["window_end"] > ends[part["context"]["project_id"]]
    # an organisation-wide annotation appears in both projects: one row per project
    data.add_annotation("Org-wide release", scope="organization", project_id=sim.other_project_id)
    run_both(sim, "annotations", db, _both(sim))
    rows = dest_rows(db, "annotations")
    assert_table_exact(sim, "annotations", rows)
    org = [r for r in rows if r["content"] == "Org-wide release"]
    assert sorted(r["project_id"] for r in org) == sorted(projects)
    # insights: each project's run asks only for what changed since its own bookmark
    touched = {}
    for pid in projects:
        touched[pid] = sim.truth.records("insights", pid)[0]["id"]
        data.touch_insight(touched[pid], f"Now {pid}", project_id=pid)
    sim.requests.clear()
    messages = run_both(sim, "insights", db, _both(sim))
    assert messages[-1]["rows"] < len(sim.truth.ids("insights")) + len(
        sim.truth.ids("insights", sim.other_project_id)
    )
    asked = {r.path: r.query for r in sim.requests if r.path.endswith("/insights/")}
    for pid in projects:
        assert "date_from" in asked[f"/api/projects/{pid}/insights/"]
    assert_table_exact(sim, "insights", dest_rows(db, "insights"))


def test_grown_sessions_replace_their_rows(two_sim, tmp_path):
    sim, db = two_sim, tmp_path / "sessions.duckdb"
    projects = (sim.project_id, sim.other_project_id)
    run_both(sim, "sessions", db, _both(sim))
    before = {(r["project_id"], r["session_id"]): r for r in dest_rows(db, "sessions")}
    grown = []
    for pid in projects:
        newest = max(sim.truth.records("sessions", pid), key=lambda r: r["start_timestamp"])
        end = datetime.fromisoformat(newest["end_timestamp"].replace("Z", "+00:00"))
        sim.data.grow_session(newest["session_id"], 4, start=end + timedelta(seconds=30),
                              end=end + timedelta(minutes=5), project_id=pid)  # fmt: skip
        grown.append((pid, newest["session_id"]))
    messages = run_both(sim, "sessions", db, _both(sim))
    assert messages[-1]["rows"] < len(before) // 2
    rows = dest_rows(db, "sessions")
    assert_table_exact(sim, "sessions", rows)
    after = {(r["project_id"], r["session_id"]): r for r in rows}
    for key in grown:
        assert after[key]["end_timestamp"] > before[key]["end_timestamp"]
        assert after[key]["max_inserted_at"] > before[key]["max_inserted_at"]
        assert after[key]["session_duration"] > before[key]["session_duration"]
