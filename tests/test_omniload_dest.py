"""Destination safety, end to end: names as DuckDB compares them, reserved file names, files that
are not DuckDB databases, non-unique --primary-key, credentials in base_url, temp files."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from omniload import store
from omniload.errors import RunError
from tests.test_omniload_e2e import _args, _env, dest_ids, ingest, saved_states, truth
from tests.test_reliability_kit import Workspace, children, wait_gone
from tests.test_reliability_scenarios import KillPoint, wait_for

SQLITE_HEADER = b"SQLite format 3\x00" + b"\x00" * 4080
GUARD = str(Path(sys.executable).with_name("target-duckdb-guarded"))


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=_env(env), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def _one_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return lines[0]


def _refused_up_front(sim: Any, proc: subprocess.CompletedProcess) -> str:
    """Exit 2, one line, and not one request reached the simulator."""
    assert proc.returncode == 2, proc.stderr
    assert len(sim.requests) == 0
    return _one_line(proc)


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["_OMNILOAD.state", "_Omniload.x", "_omniload_stage_1.events"])
def test_omniload_own_schemas_refused_in_any_case(sim: Any, tmp_path: Path, name: str) -> None:
    db = tmp_path / "d.duckdb"
    proc = _run(_args(sim, "persons", db, "--dest-table", name))
    assert "_omniload" in _refused_up_front(sim, proc)
    assert not db.exists()


def test_dest_table_spelled_in_another_case_is_the_same_table(sim: Any, tmp_path: Path) -> None:
    """DuckDB ignores case: Posthog.Persons merges into posthog.persons, one bookmark."""
    db = tmp_path / "d.duckdb"
    first, _ = ingest(sim, "persons", db, "--dest-table", "posthog.persons")
    assert first.returncode == 0, first.stderr
    second, messages = ingest(sim, "persons", db, "--dest-table", "Posthog.Persons")
    assert second.returncode == 0, second.stderr
    assert sorted(dest_ids(db, "posthog.persons")) == sorted(truth(sim, "persons"))
    assert [s[1] for s in saved_states(db)] == ["posthog.persons"]
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
    assert [t for t in tables if t[0] != "_omniload"] == [("posthog", "persons")]
    assert messages[-1]["rows_loaded"] == len(truth(sim, "persons"))


@pytest.mark.parametrize("file", ["main.duckdb", "TEMP.duckdb", "system.db", "Main"])
def test_reserved_catalog_names_refused_before_reading(sim: Any, tmp_path: Path, file: str) -> None:
    db = tmp_path / file
    line = _refused_up_front(sim, _run(_args(sim, "persons", db)))
    assert "cannot be used" in line
    assert file in line
    assert not db.exists()


def test_renamed_catalog_detected_by_behaviour(tmp_path: Path) -> None:
    """Whatever the name list, a file DuckDB attaches under another name is refused."""
    db = tmp_path / "main.duckdb"
    with store.connect(db) as con, pytest.raises(store.UsageError, match="main_db"):
        store.check_catalog_name(con, db)


# -- files that are not DuckDB databases, extensions ----------------------------------------------


def test_non_duckdb_file_is_one_line_and_fetches_nothing(sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "notduck.duckdb"
    db.write_bytes(SQLITE_HEADER)
    line = _refused_up_front(sim, _run(_args(sim, "persons", db)))
    assert line == f"omniload: error: {db} is not a DuckDB database file"
    assert db.read_bytes() == SQLITE_HEADER


def test_every_omniload_connection_is_offline(tmp_path: Path) -> None:
    with store.connect(tmp_path / "d.duckdb") as con:
        got = con.execute("SELECT current_setting('autoinstall_known_extensions'), "
                          "current_setting('autoload_known_extensions')").fetchone()  # fmt: skip
    assert got == (False, False)


def test_guard_connection_is_offline_and_makes_the_folder(tmp_path: Path) -> None:
    from target_duckdb_guard import offline

    path = tmp_path / "new" / "folder" / "w.duckdb"
    con = offline.connect(str(path))
    try:
        got = con.execute("SELECT current_setting('autoinstall_known_extensions'), "
                          "current_setting('autoload_known_extensions')").fetchone()  # fmt: skip
    finally:
        con.close()
    assert got == (False, False)
    assert path.exists()


def _guard(tmp_path: Path, db: Path, lines: list[dict]) -> subprocess.CompletedProcess:
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"path": str(db), "default_target_schema": "s"}))
    return subprocess.run([GUARD, "--config", str(config)], input="".join(
        json.dumps(m) + "\n" for m in lines), capture_output=True, text=True, timeout=60,
        check=False)  # fmt: skip


def test_guard_refuses_a_non_duckdb_file_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    db.write_bytes(SQLITE_HEADER)
    proc = _guard(tmp_path, db, [])
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"target-duckdb-guarded: {db} is not a DuckDB database file"
    )
    assert "Traceback" not in proc.stderr


def test_guard_creates_the_missing_output_folder(tmp_path: Path) -> None:
    """What `meltano run` from a fresh clone needs: output/ does not exist yet."""
    db = tmp_path / "output" / "warehouse.duckdb"
    schema = {"type": "SCHEMA", "stream": "t", "key_properties": ["id"],
              "schema": {"properties": {"id": {"type": "string"}}}}  # fmt: skip
    records = [{"type": "RECORD", "stream": "t", "record": {"id": str(i)}} for i in range(3)]
    proc = _guard(tmp_path, db, [schema, *records])
    assert proc.returncode == 0, proc.stderr[-2000:]
    with duckdb.connect(str(db), read_only=True) as con:
        assert sorted(r[0] for r in con.execute("SELECT id FROM s.t").fetchall()) == ["0", "1", "2"]


# -- --primary-key that is not unique -----------------------------------------------------------


@pytest.mark.parametrize("strategy", ["merge", "append"])
def test_non_unique_primary_key_fails_and_loads_nothing(
    sim: Any, tmp_path: Path, strategy: str
) -> None:
    """Events by ``event`` (repeated): merge and events' append use the key; one line, exit 1,
    no table, no bookmark."""
    db = tmp_path / "d.duckdb"
    proc, messages = ingest(sim, "events", db, "--primary-key", "event",
                            "--incremental-strategy", strategy)  # fmt: skip
    assert proc.returncode == 1
    line = _one_line(proc)
    assert "--primary-key event is not unique" in line
    assert "nothing was loaded" in line
    assert messages[-1] == {"type": "error", "message": line.removeprefix("omniload: error: ")}
    assert saved_states(db) == []
    with duckdb.connect(str(db), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    assert names == []


def test_append_of_other_tables_keeps_every_row_whatever_the_key(sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    proc, messages = ingest(sim, "persons", db, "--primary-key", "name",
                            "--incremental-strategy", "append")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert sorted(dest_ids(db, "main.persons")) == sorted(truth(sim, "persons"))
    assert messages[-1]["rows_loaded"] == len(truth(sim, "persons"))


# -- credentials in base_url --------------------------------------------------------------------

PASSWORD = "s3cr3t-Pa55word"


def _uri_with_password(sim: Any) -> str:
    host = sim.base_url.split("://", 1)[1]
    return (f"posthog://?personal_api_key={sim.api_key}&project_id={sim.project_id}"
            f"&base_url=http://admin:{PASSWORD}@{host}")  # fmt: skip


@pytest.mark.parametrize("progress", ["json", "log"])
def test_credentials_in_base_url_refused_never_printed(
    sim: Any, tmp_path: Path, progress: str
) -> None:
    args = _args(sim, "persons", tmp_path / "d.duckdb")
    args[args.index("--source-uri") + 1] = _uri_with_password(sim)
    args[args.index("--progress") + 1] = progress
    proc = _run(args)
    line = _refused_up_front(sim, proc)
    assert "must not contain a user name or password" in line
    assert PASSWORD not in proc.stdout + proc.stderr
    assert "admin" not in proc.stdout + proc.stderr


def test_credentials_in_base_url_from_env_on_a_terminal(sim: Any, tmp_path: Path) -> None:
    """On a terminal (where omniload would prompt) and with the URI in OMNILOAD_SOURCE_URI."""
    args = [a for a in _args(sim, "persons", tmp_path / "d.duckdb") if a != "--yes"]
    i = args.index("--source-uri")
    del args[i : i + 2]
    env = _env({"OMNILOAD_SOURCE_URI": _uri_with_password(sim)})
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    out = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.wait(30) == 2
    text = out.decode()
    assert "must not contain a user name or password" in text
    assert PASSWORD not in text
    assert "Continue?" not in text
    assert len(sim.requests) == 0


# -- apply waits out a short lock ---------------------------------------------------------------

HOLDER = (
    "import duckdb, sys\n"
    "con = duckdb.connect(sys.argv[1])\n"
    "print('held', flush=True)\n"
    "sys.stdin.readline()\n"
    "con.close()\n"
    "print('released', flush=True)\n"
)


def _holder(db: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline() == "held\n"
    return proc


def test_short_lock_at_apply_is_retried(tmp_path: Path) -> None:
    """Another process holds the file; released once omniload has retried: the open succeeds."""
    db = tmp_path / "d.duckdb"
    holder = _holder(db)
    retries: list[int] = []

    def release(attempt: int) -> None:
        retries.append(attempt)
        if attempt == 2:
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()

    try:
        with store.connect(db, lock_wait=30, on_retry=release) as con:
            assert con.execute("SELECT 1").fetchone() == (1,)
    finally:
        holder.kill()
        holder.wait()
    assert retries[:2] == [1, 2]


def test_lock_that_stays_fails_within_the_bound(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    holder = _holder(db)
    started = time.monotonic()
    try:
        with pytest.raises(RunError, match="locked by another process"), store.connect(
            db, lock_wait=1.5
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    assert time.monotonic() - started < 5


# -- temp files ---------------------------------------------------------------------------------


def test_killed_run_leaves_temp_only_in_private_folder_swept_next_run(
    sim_factory: Any, tmp_path: Path
) -> None:
    """SIGKILL mid-load: what the run wrote is in $TMPDIR/omniload-<uid>/run-* (0700); the next
    run removes it; nothing else in TMPDIR, no tmp_ table outside the staging schema."""
    sim = sim_factory(seed=40, n_events=20_000)
    ws = Workspace(tmp_path / "ws", sim)
    db = ws.db("killed")
    watched = ws.spawn_omniload("events", db, key_in_uri=False)
    assert wait_for(watched, KillPoint("progress", 1), 20_000, lambda: 0) is not None
    kids = list(children(watched.proc.pid))
    os.kill(watched.proc.pid, signal.SIGKILL)
    watched.finish()
    assert wait_gone(kids) == []
    private = ws.tmp / f"omniload-{os.getuid()}"
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    left = list(private.glob("run-*"))
    assert len(left) == 1
    target = json.loads((left[0] / "target.json").read_text())
    assert target["temp_dir"] == str(left[0])  # tmp_<uuid>.csv batches
    assert target["settings"]["temp_directory"] == str(left[0] / "duckdb")  # DuckDB spill files
    assert [p for p in ws.tmp.rglob("*") if private not in p.parents and p != private] == []
    rerun = ws.omniload("persons", ws.db("other"), key_in_uri=False)
    assert rerun.returncode == 0, rerun.stderr
    assert list(private.glob("run-*")) == []
    assert list(ws.tmp.rglob("*.csv")) == []
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
    assert [r for r in rows if r[1].startswith("tmp_") and not r[0].startswith("_omniload")] == []
