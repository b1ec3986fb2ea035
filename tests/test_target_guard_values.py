"""target-duckdb-guarded stores every value as sent; plain target-duckdb 0.8.0 does not."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest

import target_duckdb_guard.patch as guard
from target_duckdb_guard.exact import csv_field
from tests.rows import canonical, normalise
from tests.test_target_guard import _command

TEXTS = ["", " ", "0", "false", "null", "\\N", "NULL", 'quo"te', "a,b",
         "tab\tnew\nline\r\n", "cr\ronly", "nul\x00byte", "\x01\x02\x1b\x1f\x7f",
         "Zoë Ångström 李雷 ✨ 😀", "\u2028"]  # fmt: skip
BIG = 2**53 + 1
PROPS = {
    "id": {"type": "string"},
    "text": {"type": ["string", "null"]},
    "n": {"type": ["integer", "null"]},
    "x": {"type": ["number", "null"]},
    "ok": {"type": ["boolean", "null"]},
    "ts": {"type": ["string", "null"], "format": "date-time"},
    "props": {"type": ["object", "null"]},
    "tags": {"type": ["array", "null"]},
}


def _records() -> list[dict]:
    rows = []
    for i, text in enumerate(TEXTS):
        rows.append({
            "id": f"r{i:02d}", "text": text, "n": [0, BIG, -BIG, 2**100, 1][i % 5],
            "x": [0.0, 0.1, -1e-300, 1.7976931348623157e308, 2.5][i % 5], "ok": i % 2 == 0,
            "ts": f"2026-01-02T03:04:05.{i:06d}Z",
            "props": {"s": text, "zero": 0, "no": False, "empty": "", "big": 2**64 + i,
                      "f": 0.1, "nested": {"list": [[], {}, None, "", 0]}},
            "tags": [] if i % 3 else ["", text],
        })  # fmt: skip
    rows.append({"id": "nulls", **{k: None for k in PROPS if k != "id"}})
    rows.append({"id": "empty-json", "props": {}, "tags": [], "text": "", "n": 0, "ok": False})
    return rows


def _messages(records: list[dict]) -> str:
    schema = {"type": "SCHEMA", "stream": "values", "key_properties": ["id"],
              "schema": {"type": "object", "properties": PROPS}}  # fmt: skip
    lines = [schema] + [{"type": "RECORD", "stream": "values", "record": r} for r in records]
    # Each record twice, in different batches: the second copy goes through the UPDATE path.
    lines += [{"type": "RECORD", "stream": "values", "record": r} for r in records]
    return "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in lines)


def _load(tmp_path: Path, command: list[str]) -> dict[str, dict]:
    db, config = tmp_path / "out.duckdb", tmp_path / "target.json"
    settings = {"path": str(db), "default_target_schema": "raw", "batch_size_rows": 7}
    config.write_text(json.dumps({**settings, "data_flattening_max_level": 0}))
    proc = subprocess.run([*command, "--config", str(config)],
                          input=_messages(_records()).encode(),
                          capture_output=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    with duckdb.connect(str(db), read_only=True) as con:
        cur = con.execute("SELECT * FROM raw.values")
        names = [d[0] for d in cur.description]
        return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def _expected(record: dict) -> dict:
    return {name: normalise(prop, record.get(name)) for name, prop in PROPS.items()}


def test_guarded_target_keeps_every_value(tmp_path: Path) -> None:
    got = _load(tmp_path, _command("target-duckdb-guarded", "target_duckdb_guard"))
    records = _records()
    assert sorted(got) == sorted(r["id"] for r in records)
    for record in records:
        row = {name: normalise(PROPS[name], value) for name, value in got[record["id"]].items()}
        assert canonical(row) == canonical(_expected(record)), record["id"]


def test_plain_target_turns_empty_strings_into_null(tmp_path: Path) -> None:
    if guard.installed_version() != guard.PATCHED_VERSION:
        pytest.skip("the defect is specific to target-duckdb 0.8.0")
    got = _load(tmp_path, _command("target-duckdb", "target_duckdb"))
    assert got["empty-json"]["text"] is None  # sent as ""
    assert got["r00"]["text"] is None  # sent as ""


def test_csv_field_tells_null_from_empty() -> None:
    assert [csv_field(v) for v in (None, "", 'a"b', True, False, 0, 2**70, 0.1)] == [
        "", '""', '"a""b"', "true", "false", "0", str(2**70), "0.1"]  # fmt: skip
