"""Rows deleted in PostHog leave the table (or get marked) after a complete whole read only."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from omniload.relay import Relay
from omniload.tables import TABLES
from tap_posthog.tap import STREAM_TYPES
from tests.helpers import tap_config
from tests.rows import assert_table_matches, table_rows
from tests.taprun import run_tap
from tests.test_omniload_e2e import _args, _env, dest_ids, ingest

#: Tables of the streams read whole every run (FULL_TABLE): deletions apply to these only.
READ_WHOLE = {cls.name for cls in STREAM_TYPES if getattr(cls, "reads_whole", False)}
WHOLE = sorted(name for name, spec in TABLES.items() if spec.stream in READ_WHOLE)


def _victims(sim: Any, stream: str) -> list[Any]:
    if stream == "projects":
        return [sim.other_project_id]
    ids = sim.truth.ids(stream)
    return [ids[0], ids[len(ids) // 2]]


def _run(sim: Any, table: str, db: Path, *extra: str) -> None:
    proc, _ = ingest(sim, table, db, *extra)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("table", WHOLE)
def test_deleted_rows_leave_and_restored_rows_return(
    sim: Any, tmp_path: Path, table: str
) -> None:
    spec, db = TABLES[table], tmp_path / "out.duckdb"
    dest = f"main.{spec.default_dest_table}"
    _run(sim, table, db)
    before = assert_table_matches(db, dest, sim, spec.stream)
    victims = _victims(sim, spec.stream)
    for row_id in victims:
        sim.data.delete_row(spec.stream, row_id)
    _run(sim, table, db)
    got = assert_table_matches(db, dest, sim, spec.stream)
    assert set(got) < set(before)
    assert len(before) - len(got) == len(victims)
    for row_id in victims:
        sim.data.restore_row(spec.stream, row_id)
    _run(sim, table, db)
    got = assert_table_matches(db, dest, sim, spec.stream)
    assert set(got) == set(before)


def test_mark_mode_keeps_deleted_rows_with_first_missing_time(sim: Any, tmp_path: Path) -> None:
    db, dest = tmp_path / "out.duckdb", "main.feature_flags"
    _run(sim, "feature_flags", db, "--deletions", "mark")
    before = table_rows(db, dest, "feature_flags", extra=["_sdc_deleted_at"])
    assert {row.pop("_sdc_deleted_at") for row in before.values()} == {None}
    victims = _victims(sim, "feature_flags")
    for row_id in victims:
        sim.data.delete_row("feature_flags", row_id)
    _run(sim, "feature_flags", db, "--deletions", "mark")
    marked = table_rows(db, dest, "feature_flags", extra=["_sdc_deleted_at"])
    assert set(marked) == set(before)
    stamps = {k: row.pop("_sdc_deleted_at") for k, row in marked.items()}
    assert {k for k, v in stamps.items() if v is not None} == {str(v) for v in victims}
    assert {k: marked[k] for k in map(str, victims)} == {k: before[k] for k in map(str, victims)}
    _run(sim, "feature_flags", db, "--deletions", "mark")  # still missing: first time kept
    again = table_rows(db, dest, "feature_flags", extra=["_sdc_deleted_at"])
    assert {k: r["_sdc_deleted_at"] for k, r in again.items()} == stamps
    sim.data.restore_row("feature_flags", victims[0])
    _run(sim, "feature_flags", db, "--deletions", "mark")
    back = table_rows(db, dest, "feature_flags", extra=["_sdc_deleted_at"])
    assert back[str(victims[0])]["_sdc_deleted_at"] is None
    assert back[str(victims[1])]["_sdc_deleted_at"] == stamps[str(victims[1])]


def test_failed_run_deletes_nothing(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory(n_event_definitions=1500, n_events=10)  # two pages of 1,000
    db = tmp_path / "out.duckdb"
    _run(sim, "event_definitions", db)
    before = sorted(dest_ids(db, "main.event_definitions"))
    for row_id in _victims(sim, "event_definitions"):
        sim.data.delete_row("event_definitions", row_id)
    keys = sim._app.keys  # the key table: revoked after page 1, so page 2 answers 401
    revoked = dict(keys)
    sim.hooks.before_page("event_definitions", lambda n: keys.clear() if n == 1 else None)
    try:
        proc, _ = ingest(sim, "event_definitions", db)
    finally:
        keys.update(revoked)
    assert proc.returncode == 1
    assert sorted(dest_ids(db, "main.event_definitions")) == before


def test_interrupted_run_deletes_nothing(sim_factory: Any, tmp_path: Path) -> None:
    sim = sim_factory(n_event_definitions=1500, n_events=10)
    db = tmp_path / "out.duckdb"
    _run(sim, "event_definitions", db)
    before = sorted(dest_ids(db, "main.event_definitions"))
    for row_id in _victims(sim, "event_definitions"):
        sim.data.delete_row("event_definitions", row_id)
    release, serving = threading.Event(), threading.Event()
    sim.hooks.before_page(
        "event_definitions", lambda n: (serving.set(), release.wait(60)) if n >= 2 else 0
    )
    proc = subprocess.Popen(
        _args(sim, "event_definitions", db), env=_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert serving.wait(60), "the second event_definitions page was never requested"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0, err
    assert sorted(dest_ids(db, "main.event_definitions")) == before


def test_interval_run_deletes_nothing(sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "out.duckdb"
    _run(sim, "feature_flags", db)
    before = sorted(dest_ids(db, "main.feature_flags"))
    for row_id in _victims(sim, "feature_flags"):
        sim.data.delete_row("feature_flags", row_id)
    _run(sim, "feature_flags", db, "--interval-start", "2000-01-01", "--interval-end", "2100-01-01")
    assert sorted(dest_ids(db, "main.feature_flags")) == before


def test_relay_sees_a_complete_read_only_after_the_repeated_version() -> None:
    def line(kind: str, **fields: Any) -> bytes:
        return json.dumps({"type": kind, "stream": "flags", **fields}).encode() + b"\n"

    relay = Relay()
    relay.feed(line("SCHEMA", schema={}, key_properties=["id"]))
    relay.feed(line("ACTIVATE_VERSION", version=7) + line("RECORD", record={"id": 1}))
    assert relay.completed_streams == set()  # the SDK's opening message alone
    relay.feed(line("ACTIVATE_VERSION", version=7))
    assert relay.completed_streams == {"flags"}


def test_unknown_deletions_mode_is_one_line(sim: Any, tmp_path: Path) -> None:
    db = tmp_path / "o.duckdb"
    proc = subprocess.run(_args(sim, "persons", db, "--deletions", "soft"), env=_env(),
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last == "omniload: error: invalid --deletions 'soft'; choose one of hard, mark"
    assert "Traceback" not in proc.stderr
    assert not db.exists()


@pytest.mark.parametrize("emit", [True, False])
def test_tap_brackets_whole_reads_with_activate_version(sim: Any, emit: bool) -> None:
    config = {**tap_config(sim), "emit_activate_version_messages": emit}
    run = run_tap(config, streams=["feature_flags", "events"])
    assert run.returncode == 0, run.stderr
    kinds = [json.loads(line) for line in run.stdout.split("\n") if line]
    flags = [(m["type"], m.get("version")) for m in kinds if m.get("stream") == "feature_flags"]
    marks = [i for i, (kind, _) in enumerate(flags) if kind == "ACTIVATE_VERSION"]
    events = [m for m in kinds if m.get("stream") == "events" and m["type"] == "ACTIVATE_VERSION"]
    assert not events  # events are INCREMENTAL
    if not emit:
        assert marks == []
        return
    records = [i for i, (kind, _) in enumerate(flags) if kind == "RECORD"]
    assert len(marks) == 2
    assert marks[0] < min(records)
    assert marks[1] > max(records)
    assert len({version for _, version in flags if version is not None}) == 1
