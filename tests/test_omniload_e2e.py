"""End to end: ``omniload ingest`` as a subprocess against the simulator, checked against truth."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from omniload.tables import TABLES

OMNILOAD = str(Path(sys.executable).with_name("omniload"))


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OMNILOAD_", "POSTHOG_"))}
    return {**base, **(extra or {})}


def _args(sim: Any, table: str, db: Path, *extra: str, key: bool = True) -> list[str]:
    uri = f"posthog://?project_id={sim.project_id}&base_url={sim.base_url}"
    if key:
        uri = f"posthog://?personal_api_key={sim.api_key}&project_id={sim.project_id}" + (
            f"&base_url={sim.base_url}"
        )
    return [OMNILOAD, "ingest", "--source-uri", uri, "--source-table", table,
            "--dest-uri", f"duckdb:///{db}", "--progress", "json", "--yes", *extra]  # fmt: skip


def ingest(
    sim: Any,
    table: str,
    db: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    key: bool = True,
) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Run omniload; return the process and its JSON progress messages (checked for shape)."""
    proc = subprocess.run(
        _args(sim, table, db, *extra, key=key), env=_env(env), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=170, check=False,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert sim.api_key not in output
    assert "Traceback" not in output
    messages = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert messages, proc.stderr
    assert messages[0]["type"] == "start"
    assert "personal_api_key=***" in messages[0]["source"]
    assert {m["type"] for m in messages} <= {"start", "progress", "phase", "note", "end", "error"}
    for m in messages:
        if m["type"] == "progress":
            assert {"rows", "rows_per_sec", "elapsed"} <= set(m)
    if proc.returncode == 0:
        assert messages[-1]["type"] == "end", proc.stderr
        assert {"rows", "rows_loaded", "duration", "dest_table", "bookmark"} <= set(messages[-1])
    else:
        assert messages[-1]["type"] == "error"
    return proc, messages


def dest_ids(db: Path, table: str, columns: tuple[str, ...] = ("id",)) -> list[str]:
    """Keys as ``truth`` renders them: ``str(id)``, or ``str(tuple)`` for composite keys."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    return [str(r[0]) if len(columns) == 1 else str(tuple(r)) for r in rows]


def saved_states(db: Path) -> list[tuple[str, str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = '_omniload'"
        ).fetchone()[0]
        if not exists:
            return []
        return con.execute("SELECT source_key, dest_table, state FROM _omniload.state").fetchall()


def truth(sim: Any, stream: str) -> list[str]:
    return [str(i) for i in sim.truth.ids(stream)]


def assert_exact(got: list[str], want: list[str]) -> None:
    assert len(got) == len(set(got)), "duplicate ids in the destination"
    assert set(got) == set(want)
    assert len(got) == len(want)


def _ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_source_table(session_sim: Any, tmp_path: Path, table: str) -> None:
    sim = session_sim
    spec = TABLES[table]
    db = tmp_path / "out.duckdb"
    proc, messages = ingest(sim, table, db)
    assert proc.returncode == 0, proc.stderr
    dest = f"main.{spec.default_dest_table}"
    want = truth(sim, spec.stream)
    assert want, "the simulator should have data for every table"
    columns = tuple(k for k in spec.primary_key if k != "project_id")
    assert_exact(dest_ids(db, dest, columns), want)
    end = messages[-1]
    assert end["rows_loaded"] == len(want)
    assert end["dest_table"] == dest
    states = saved_states(db)
    assert [s[:2] for s in states] == [
        (f"posthog://{sim.base_url.split('://')[1]}/{sim.project_id}/{table}", dest)
    ]
    assert sim.api_key not in states[0][2]
    with duckdb.connect(str(db), read_only=True) as con:
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}
    assert not [s for s in schemas if s.startswith("_omniload_stage_")]


def test_second_run_reads_only_new_events(sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "out.duckdb"
    proc, first = ingest(sim, "events", db)
    assert proc.returncode == 0, proc.stderr
    assert first[-1]["bookmark"]
    now = datetime.now(UTC).replace(microsecond=0)
    new = sim.data.add_events(40, start=now - timedelta(hours=2), end=now - timedelta(hours=1))
    proc, second = ingest(sim, "events", db)
    assert proc.returncode == 0, proc.stderr
    assert second[-1]["rows"] < first[-1]["rows"]
    assert second[-1]["rows_loaded"] == len(new)
    assert_exact(dest_ids(db, "main.events"), truth(sim, "events"))
    proc, third = ingest(sim, "events", db)  # nothing new: nothing inserted, no duplicates
    assert proc.returncode == 0, proc.stderr
    assert third[-1]["rows_loaded"] == 0
    assert_exact(dest_ids(db, "main.events"), truth(sim, "events"))


def test_full_refresh_rebuilds_table(sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "out.duckdb"
    assert ingest(sim, "persons", db)[0].returncode == 0
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM main.persons WHERE id IN (SELECT id FROM main.persons LIMIT 3)")
        con.execute("INSERT INTO main.persons (id) VALUES ('bogus-person')")
    proc, messages = ingest(sim, "persons", db, "--full-refresh")
    assert proc.returncode == 0, proc.stderr
    assert messages[0]["strategy"] == "replace"
    assert_exact(dest_ids(db, "main.persons"), truth(sim, "persons"))
    assert len(saved_states(db)) == 1


def test_interval_loads_exact_window_and_keeps_bookmark(sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "out.duckdb"
    records = sim.truth.records("events")
    stamps = sorted({_ts(r["timestamp"]) for r in records})  # distinct: ties are big
    start = stamps[len(stamps) // 4].replace(minute=0, second=0, microsecond=0)
    end = stamps[3 * len(stamps) // 4]
    want = [str(r["id"]) for r in records if start <= _ts(r["timestamp"]) < end]
    assert 0 < len(want) < len(records)
    proc, _ = ingest(
        sim, "events", db, "--interval-start", start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--interval-end", end.isoformat(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert_exact(dest_ids(db, "main.events"), want)
    assert saved_states(db) == []
    proc, _ = ingest(sim, "events", db)  # no bookmark was saved: the full history follows
    assert proc.returncode == 0, proc.stderr
    assert_exact(dest_ids(db, "main.events"), truth(sim, "events"))


def test_interval_on_incremental_key_with_plain_dest_table(sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "out.duckdb"
    records = sim.truth.records("annotations")
    stamps = sorted(t for t in (_ts(r["updated_at"]) for r in records) if t is not None)
    start, end = stamps[len(stamps) // 3], stamps[2 * len(stamps) // 3]
    want = [str(r["id"]) for r in records
            if r["updated_at"] is not None and start <= _ts(r["updated_at"]) < end]  # fmt: skip
    assert want
    proc, messages = ingest(
        sim, "annotations", db, "--dest-table", "notes",
        "--interval-start", start.isoformat(), "--interval-end", end.isoformat(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert messages[-1]["dest_table"] == "main.notes"
    assert_exact(dest_ids(db, "main.notes"), want)


def test_dest_table_with_schema_in_new_folder(sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "posthog.duckdb"  # file named like the schema
    proc, messages = ingest(sim, "feature_flags", db, "--dest-table", "posthog.flags")
    assert proc.returncode == 0, proc.stderr
    assert messages[-1]["dest_table"] == "posthog.flags"
    assert_exact(dest_ids(db, '"posthog"."posthog"."flags"'), truth(sim, "feature_flags"))


def test_key_from_environment(sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "out.duckdb"
    proc, _ = ingest(sim, "cohorts", db, key=False, env={"POSTHOG_PERSONAL_API_KEY": sim.api_key})
    assert proc.returncode == 0, proc.stderr
    assert_exact(dest_ids(db, "main.cohorts"), truth(sim, "cohorts"))


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_replace_killed_midway_keeps_old_table(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory(n_persons=1500, n_events=10)  # queries: distinct ids, then persons
    db = tmp_path / "out.duckdb"
    assert ingest(sim, "persons", db)[0].returncode == 0
    before = sorted(dest_ids(db, "main.persons"))
    state_before = saved_states(db)
    release = threading.Event()
    # queries: distinct ids (2 pages), persons (one page of rows, then the empty end page)
    sim.hooks.before_page("query", lambda n: release.wait(60) if n >= 4 else None)
    proc = subprocess.Popen(
        _args(sim, "persons", db, "--incremental-strategy", "replace"), env=_env(),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        children: set[int] = set()
        assert proc.stdout is not None
        for line in proc.stdout:
            children.update(_children(proc.pid))
            message = json.loads(line)
            if message["type"] == "progress" and message["rows"] > 0:
                break
        time.sleep(0.3)
        children.update(_children(proc.pid))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert err.strip().splitlines()[-1].startswith("omniload: error: interrupted")
    assert "Traceback" not in err
    assert json.loads(out.strip().splitlines()[-1])["type"] == "error"
    assert children, "the tap and the target should have been running"
    assert not [pid for pid in children if _alive(pid)]
    assert sorted(dest_ids(db, "main.persons")) == before
    assert saved_states(db) == state_before


def test_replace_failing_midway_on_401_keeps_old_table(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory(n_persons=1500, n_events=10)
    db = tmp_path / "out.duckdb"
    assert ingest(sim, "persons", db)[0].returncode == 0
    before = sorted(dest_ids(db, "main.persons"))
    state_before = saved_states(db)
    keys = getattr(getattr(sim, "_app", None), "keys", None)
    if not isinstance(keys, dict):
        pytest.skip("simulator key table is not reachable")
    revoked = dict(keys)
    # the key is revoked after query 1 (distinct ids) was authorised: query 2 answers 401
    sim.hooks.before_page("query", lambda n: keys.clear() if n == 1 else None)
    try:
        proc, messages = ingest(sim, "persons", db, "--full-refresh")
    finally:
        keys.update(revoked)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("omniload: error: tap-posthog: invalid personal API key (HTTP 401)")
    assert messages[-1] == {"type": "error", "message": last.removeprefix("omniload: error: ")}
    queries = [r for r in sim.requests if r.path.endswith("/query/")]
    # the first run: two distinct-id pages and two persons pages; the second failed on its 2nd
    assert len(queries) >= 6
    assert queries[-1].status == 401
    assert sorted(dest_ids(db, "main.persons")) == before
    assert saved_states(db) == state_before
    with duckdb.connect(str(db), read_only=True) as con:
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}
    assert not [s for s in schemas if s.startswith("_omniload_stage_")]
