"""target-duckdb-guarded keeps every row; the unpatched target loses rows; no double patch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

import target_duckdb_guard.patch as guard

N = 2_500
BATCH = 1_000


def _command(script: str, module: str) -> list[str]:
    """Console script next to the interpreter (same venv), else PATH, else ``python -m``."""
    local = Path(sys.executable).with_name(script)
    if local.exists():
        return [str(local)]
    found = shutil.which(script)
    return [found] if found else [sys.executable, "-m", module]


def _varchar_messages() -> tuple[list[dict], list[str]]:
    ids = [f"id-{i:05d}" for i in range(N)]
    schema = {
        "type": "SCHEMA",
        "stream": "people",
        "schema": {
            "properties": {"id": {"type": ["string"]}, "name": {"type": ["null", "string"]}}
        },
        "key_properties": ["id"],
    }
    records = [
        {"type": "RECORD", "stream": "people", "record": {"id": i, "name": f"name {i}"}}
        for i in ids
    ]
    return [schema, *records], ids


def _timestamp_first_messages() -> tuple[list[dict], list[str]]:
    ids = [f"ev-{i:05d}" for i in range(N)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    schema = {
        "type": "SCHEMA",
        "stream": "people",
        "schema": {
            "properties": {
                "ts": {"type": ["null", "string"], "format": "date-time"},
                "id": {"type": ["string"]},
                "n": {"type": ["null", "integer"]},
            }
        },
        "key_properties": ["id"],
    }
    records = [
        {
            "type": "RECORD",
            "stream": "people",
            "record": {
                "ts": (start + timedelta(seconds=k)).isoformat().replace("+00:00", "Z"),
                "id": i,
                "n": k,
            },
        }
        for k, i in enumerate(ids)
    ]
    return [schema, *records], ids


DATASETS = {"varchar": _varchar_messages, "timestamp_first": _timestamp_first_messages}


def _load(tmp_path: Path, command: list[str], messages: list[dict]) -> list[str]:
    db = tmp_path / "out.duckdb"
    config = tmp_path / "target.json"
    config.write_text(
        json.dumps(
            {
                "path": str(db),
                "default_target_schema": "raw",
                "batch_size_rows": BATCH,
                "data_flattening_max_level": 0,
            }
        )
    )
    payload = "".join(json.dumps(m) + "\n" for m in messages).encode()
    proc = subprocess.run(
        [*command, "--config", str(config)],
        input=payload,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    with duckdb.connect(str(db), read_only=True) as con:
        return [row[0] for row in con.execute("SELECT id FROM raw.people").fetchall()]


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_guarded_target_keeps_every_row(tmp_path: Path, dataset: str) -> None:
    messages, ids = DATASETS[dataset]()
    loaded = _load(tmp_path, _command("target-duckdb-guarded", "target_duckdb_guard"), messages)
    assert len(loaded) == N
    assert sorted(loaded) == sorted(ids)


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_unpatched_target_loses_rows(tmp_path: Path, dataset: str) -> None:
    if guard.installed_version() != guard.PATCHED_VERSION:
        pytest.skip("the defect is specific to target-duckdb 0.8.0")
    from target_duckdb.db_sync import DbSync

    if guard.source_sets_header(DbSync.load_rows):
        pytest.skip("installed target-duckdb already sets HEADER")
    messages, ids = DATASETS[dataset]()
    loaded = _load(tmp_path, _command("target-duckdb", "target_duckdb"), messages)
    assert len(loaded) < N
    assert set(loaded) < set(ids)


def test_add_header_false() -> None:
    sql = "COPY t FROM '/tmp/t.csv' WITH (new_line '\\r\\n')"
    want = "COPY t FROM '/tmp/t.csv' WITH (HEADER false, new_line '\\r\\n')"
    assert guard.add_header_false(sql) == want
    bare = "COPY t FROM 'x.csv'"
    assert guard.add_header_false(bare) == "COPY t FROM 'x.csv' WITH (HEADER false)"
    fixed = "COPY t FROM 'x.csv' WITH (new_line '\\r\\n', header false)"
    assert guard.add_header_false(fixed) == fixed
    assert guard.add_header_false("SELECT 1") == "SELECT 1"


class _FixedDbSync:
    """Stand-in for a fixed release: load_rows already passes HEADER false."""

    def __init__(self) -> None:
        self.conn = None

    def load_rows(self, records, count, temp_dir):
        self.conn.execute("COPY t FROM 'f.csv' WITH (new_line '\\r\\n', HEADER false)")


class _BrokenDbSync:
    """Stand-in for 0.8.0: load_rows lacks the header option."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def load_rows(self, records, count, temp_dir):
        self.conn.execute("COPY t FROM 'f.csv' WITH (new_line '\\r\\n')")


class _RecordingConn:
    def __init__(self) -> None:
        self.sql: list[str] = []

    def execute(self, query, *args):
        self.sql.append(query)
        return self


def test_patch_skipped_when_source_is_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    original = _FixedDbSync.load_rows
    applied, reason = guard.apply_patch(_FixedDbSync, version="0.8.0")
    assert not applied
    assert "already sets HEADER" in reason
    assert _FixedDbSync.load_rows is original


def test_patch_skipped_for_other_versions() -> None:
    original = _BrokenDbSync.load_rows
    applied, reason = guard.apply_patch(_BrokenDbSync, version="0.8.1")
    assert not applied
    assert "0.8.1" in reason
    assert _BrokenDbSync.load_rows is original


def test_patch_applied_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_BrokenDbSync, "load_rows", _BrokenDbSync.load_rows)
    applied, _ = guard.apply_patch(_BrokenDbSync, version="0.8.0")
    assert applied
    again, reason = guard.apply_patch(_BrokenDbSync, version="0.8.0")
    assert not again
    assert "already patched" in reason
    conn = _RecordingConn()
    sync = _BrokenDbSync(conn)
    sync.load_rows([], 0, "/tmp")
    assert conn.sql == ["COPY t FROM 'f.csv' WITH (HEADER false, new_line '\\r\\n')"]
    assert sync.conn is conn


def test_installed_target_is_patched_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from target_duckdb.db_sync import DbSync

    monkeypatch.setattr(DbSync, "load_rows", DbSync.load_rows)
    patch, _ = guard.needs_patch(DbSync, guard.installed_version())
    expected = guard.installed_version() == guard.PATCHED_VERSION and not guard.source_sets_header(
        DbSync.load_rows
    )
    assert patch is expected


def test_force_exact_defaults() -> None:
    config = {"data_flattening_max_level": 3, "path": "x"}
    assert guard.force_exact_defaults(config) == ["data_flattening_max_level"]
    assert config["data_flattening_max_level"] == 0
    assert guard.force_exact_defaults({}) == []
