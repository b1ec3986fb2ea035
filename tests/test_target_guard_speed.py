"""The guard's fast record path produces what the guard's exact flattening produces."""

from __future__ import annotations

import json

import pytest
from target_duckdb.db_sync import DbSync

from target_duckdb_guard import exact, speed

SCHEMA = {
    "stream": "events",
    "key_properties": ["id"],
    "schema": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "n": {"type": ["integer", "null"]},
            "flag": {"type": ["boolean", "null"]},
            "text": {"type": ["string", "null"]},
            "props": {"type": ["object", "null"]},
            "tags": {"type": ["array", "null"], "items": {"type": "string"}},
            "either": {"type": ["array", "object", "null"]},
            "ts": {"type": ["string", "null"], "format": "date-time"},
        },
    },
}

RECORDS = [
    {"id": "a", "n": 0, "flag": False, "text": "", "props": {}, "tags": [], "either": None},
    {"id": "b", "n": 7, "flag": True, "text": "héllo", "props": {"k": [1, {"x": None}]}},
    {"id": "c", "tags": ["x", "y"], "either": {"a": 1}, "ts": "2026-01-01T00:00:00.000000Z"},
    {"id": "d", "props": None, "either": [1, 2], "extra": "not in schema"},
]


class _Exact(DbSync):
    record_to_flattened = exact.record_to_flattened


class _Fast(DbSync):
    record_to_flattened = speed.record_to_flattened
    record_primary_key_string = speed.record_primary_key_string
    _omniload_original_to_flattened = exact.record_to_flattened
    _omniload_original_pk_string = DbSync.record_primary_key_string


def _normalise(row):
    out = []
    for value in row:
        if isinstance(value, str) and value.startswith(("[", "{")):
            value = json.loads(value)
        out.append(value)
    return out


@pytest.mark.parametrize("record", RECORDS, ids=[r["id"] for r in RECORDS])
def test_fast_path_matches_original(record):
    config = {"data_flattening_max_level": 0, "default_target_schema": "s", "path": ":memory:"}
    original = _Exact(None, config, SCHEMA)
    fast = _Fast(None, config, SCHEMA)
    assert _normalise(fast.record_to_flattened(record)) == _normalise(
        original.record_to_flattened(record)
    )
    assert fast.record_primary_key_string(record) == original.record_primary_key_string(record)


def test_fast_loads_raises_json_errors_like_stdlib():
    assert speed.fast_loads('{"type": "STATE", "value": {"a": 1.5}}') == {
        "type": "STATE",
        "value": {"a": 1.5},
    }
    with pytest.raises(json.JSONDecodeError):
        speed.fast_loads("{not json")
