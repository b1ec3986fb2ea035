"""The guard's JSON load stores exactly what its lossless CSV load stores, byte for byte.

Both loads run in this process on target-duckdb's own ``DbSync`` against one DuckDB file: the
CSV path of ``exact.py`` with dict records, the JSON path of ``rawload.py`` with the records
kept as the JSON text of their Singer lines. Every column of every row is compared as DuckDB
returns it (JSON columns as their stored text).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pytest
from target_duckdb.db_sync import DbSync

from target_duckdb_guard import exact, rawload, speed
from target_duckdb_guard.speed import fast_loads

TEXTS = ["", " ", "0", "false", "null", "\\N", 'quo"te', "a,b", "tab\tnew\nline\r\n",
         "nul\x00byte", "".join(map(chr, range(1, 32))) + "\x7f", "Zoë 李雷 ✨ 😀", "\u2028",
         "{\"looks\": \"like json\"}"]  # fmt: skip
BIG = 2**53 + 1
PROPS: dict[str, Any] = {
    "id": {"type": "string"},
    "text": {"type": ["string", "null"]},
    "n": {"type": ["integer", "null"]},
    "small": {"type": ["integer", "null"], "maximum": 32767},
    "x": {"type": ["number", "null"]},
    "ok": {"type": ["boolean", "null"]},
    "ts": {"type": ["string", "null"], "format": "date-time"},
    "props": {"type": ["object", "null"]},
    "tags": {"type": ["array", "null"]},
    "Odd Name.x": {"type": ["string", "null"]},
}


def _records() -> list[dict[str, Any]]:
    rows = []
    for i, text in enumerate(TEXTS):
        rows.append({
            "id": f"r{i:02d}", "text": text, "n": [0, BIG, -BIG, 2**100, 1][i % 5],
            "small": [0, -7, 32767][i % 3],
            "x": [0.0, 0.1, -1e-300, 1.7976931348623157e308, 5e-324][i % 5], "ok": i % 2 == 0,
            "ts": f"2026-01-02T03:04:05.{i:06d}Z",
            "props": {"s": text, "zero": 0, "no": False, "empty": "", "big": 2**64 + i,
                      "f": 0.1, "nested": {"list": [[], {}, None, "", 0]}, "ctl": "\x0b\x1b"},
            "tags": [] if i % 3 else ["", text], "Odd Name.x": text, "extra": {"not": "kept"},
        })  # fmt: skip
    rows.append({"id": "nulls", **{k: None for k in PROPS if k != "id"}})
    rows.append({"id": "missing"})
    rows.append({"id": "empty-json", "props": {}, "tags": [], "text": "", "n": 0, "ok": False})
    rows.append({"id": "scalar-json", "props": True, "tags": 5})
    # A key twice in one batch: the later record wins, in the place of the first.
    rows.append({"id": "r01", "text": "second copy", "props": {"v": 2}})
    return rows


def _schema(props: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return {"type": "SCHEMA", "stream": "values", "key_properties": keys,
            "schema": {"type": "object", "properties": props}}  # fmt: skip


class _Csv(DbSync):
    """The guard's lossless CSV load with its fast flattening (the reference)."""

    load_rows = exact.load_rows
    record_to_flattened = speed.record_to_flattened
    _omniload_original_to_flattened = exact.record_to_flattened


class _Json(_Csv):
    """The guard's JSON load, over the CSV path for what it does not handle."""

    _omniload_dict_pk_string = DbSync.record_primary_key_string
    _omniload_dict_load_rows = exact.load_rows
    record_primary_key_string = rawload.record_primary_key_string
    load_rows = rawload.load_rows


def _lines(records: list[dict[str, Any]]) -> list[str]:
    """RECORD lines as a Singer tap writes them (msgspec, compact, UTF-8)."""
    return [
        msgspec.json.encode({"type": "RECORD", "stream": "values", "record": r}).decode()
        for r in records
    ]


def _batch(sync: DbSync, records: list[Any]) -> list[Any]:
    """What ``persist_lines`` hands to ``load_rows``: one record per batch key."""
    batch: dict[Any, Any] = {}
    for i, record in enumerate(records):
        batch[sync.record_primary_key_string(record) or f"RID-{i}"] = record
    return list(batch.values())


def _load(con: duckdb.DuckDBPyConnection, schema: str, cls: type, records: list, tmp: Path,
          message: dict[str, Any], batch: int) -> list[tuple]:  # fmt: skip
    path = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    assert path is not None
    config = {"default_target_schema": schema, "path": path[0], "data_flattening_max_level": 0}
    sync = cls(con, config, json.loads(json.dumps(message)))
    sync.create_schema_if_not_exists()
    sync.sync_table()
    for start in range(0, len(records), batch):
        chunk = _batch(sync, records[start : start + batch])
        sync.load_rows(chunk, len(chunk), str(tmp))
    order = ", ".join(f'"{k.lower()}"' for k in message["key_properties"]) or "ALL"
    return con.execute(f"SELECT * FROM {schema}.values ORDER BY {order}").fetchall()


def _raw_records(lines: list[str]) -> list[msgspec.Raw]:
    decoder = rawload.LineDecoder()
    decoder.raw_records = True
    messages = [decoder(line) for line in lines]
    assert all(isinstance(m["record"], msgspec.Raw) for m in messages)
    return [m["record"] for m in messages]


@pytest.mark.parametrize("batch", [4, 1000], ids=["small batches", "one batch"])
def test_json_load_equals_csv_load(tmp_path: Path, batch: int) -> None:
    lines = _lines(_records())
    message = _schema(PROPS, ["id"])
    with duckdb.connect(str(tmp_path / "out.duckdb")) as con:
        want = _load(con, "csv", _Csv, [fast_loads(x)["record"] for x in lines], tmp_path,
                     message, batch)  # fmt: skip
        got = _load(con, "js", _Json, _raw_records(lines), tmp_path, message, batch)
        temp_left = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()
    assert got == want
    assert len(got) == len({r["id"] for r in _records()})
    assert temp_left == (0,)
    assert not list(tmp_path.glob("*.ndjson"))


def test_json_columns_keep_the_sent_text_byte_for_byte(tmp_path: Path) -> None:
    """DuckDB's JSON reader would rewrite an object (\\u000b -> \\u000B, spacing); the load
    keeps the text of the record as the tap sent it."""
    sent = '{"s":"\\u000b\\u001b\\u0000","big":18446744073709551617,"f":1e+300,"é":"\\u00e9 x"}'
    line = '{"type":"RECORD","stream":"values","record":{"id":"a","props":' + sent + "}}"
    message = _schema({"id": {"type": "string"}, "props": {"type": ["object", "null"]}}, ["id"])
    with duckdb.connect(str(tmp_path / "out.duckdb")) as con:
        rows = _load(con, "js", _Json, _raw_records([line]), tmp_path, message, 10)
    assert rows == [("a", sent)]


@pytest.mark.parametrize(
    ("props", "keys"),
    [
        ({"a": {"type": ["string", "null"]}, "b": {"type": ["integer", "null"]}}, []),
        ({"a": {"type": ["object", "null"]}, "b": {"type": ["array", "null"]}}, []),
        ({"a": {"type": "string"}, "b": {"type": "integer"}}, ["a", "b"]),
    ],
    ids=["no key", "only json columns", "only key columns"],
)
def test_other_shapes_equal_csv_load(tmp_path: Path, props: dict, keys: list[str]) -> None:
    records = [{"a": "x", "b": 1}, {"a": "y", "b": 2}, {"a": "x", "b": 1}, {"b": 3}]
    if "object" in props["a"]["type"]:
        records = [{"a": {"k": i}, "b": [i, ""]} for i in range(3)] + [{"a": None}]
    if keys:
        records = records[:3]
    lines = _lines(records)
    message = _schema(props, keys)
    with duckdb.connect(str(tmp_path / "out.duckdb")) as con:
        want = _load(con, "csv", _Csv, [fast_loads(x)["record"] for x in lines], tmp_path,
                     message, 2)  # fmt: skip
        got = _load(con, "js", _Json, _raw_records(lines), tmp_path, message, 2)
    assert sorted(got, key=repr) == sorted(want, key=repr)
    assert len(got) == (2 if keys else 4)


def test_a_record_without_its_key_fails_like_before(tmp_path: Path) -> None:
    lines = _lines([{"id": "a"}, {"text": "no id"}])
    message = _schema(PROPS, ["id"])
    with duckdb.connect(str(tmp_path / "out.duckdb")) as con, pytest.raises(KeyError):
        _load(con, "js", _Json, _raw_records(lines), tmp_path, message, 10)


def test_line_decoder_keeps_other_messages_whole() -> None:
    decoder = rawload.LineDecoder()
    decoder.raw_records = True
    state = '{"type":"STATE","value":{"bookmarks":{"e":{"v":1.5}}}}'
    assert decoder(state) == {"type": "STATE", "value": {"bookmarks": {"e": {"v": 1.5}}}}
    no_record = '{"type":"RECORD","stream":"s"}'
    assert decoder(no_record) == {"type": "RECORD", "stream": "s"}
    assert decoder("[1]") == [1]
    with pytest.raises(json.JSONDecodeError):
        decoder('{"type":"RECORD","stream":"s","record":{')
    decoder.raw_records = False
    line = '{"type":"RECORD","stream":"s","record":{"id":1}}'
    assert decoder(line)["record"] == {"id": 1}


@pytest.mark.parametrize(
    ("config", "allowed"),
    [({}, True), ({"validate_records": True}, False), ({"add_metadata_columns": True}, False),
     ({"hard_delete": True}, False), ({"data_flattening_max_level": 1}, False)],
)  # fmt: skip
def test_raw_records_only_when_nothing_needs_dicts(config: dict, allowed: bool) -> None:
    assert rawload.raw_records_allowed(config) is allowed
