"""Faster hot paths for target-duckdb 0.8.0, same output (applied only to that version).

Profiling 50,000 PostHog events through target-duckdb 0.8.0 showed two thirds of its time in
``flatten_record``, which it calls twice per record (once for the primary-key string, once for
the CSV row), and most of the rest in stdlib ``json``. With ``data_flattening_max_level`` 0
(forced by the guard) flattening is only "JSON-encode dicts, lists and object|array columns",
so both methods are rewritten for that case with per-stream precomputed column lists; lines
are decoded with msgspec. Other flattening levels keep the code installed before (the exact
flattening of ``exact.py``).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
_JSON_TYPES = {"null", "object", "array"}
_MARKER = "_omniload_speed_patch"


def _dump(value: Any) -> str:
    """JSON text of a dict/list (what the original ``json.dumps`` produced, compactly)."""
    try:
        return _encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        return json.dumps(value)


def _json_columns(flatten_schema: dict[str, Any]) -> frozenset[str]:
    return frozenset(
        name
        for name, prop in flatten_schema.items()
        if "type" in prop and set(prop["type"]) == _JSON_TYPES
    )


def record_to_flattened(self: Any, record: dict[str, Any]) -> list[Any]:
    """CSV row for ``record``: like :func:`exact.record_to_flattened`, without a flattened dict."""
    if self.data_flattening_max_level:
        return self._omniload_original_to_flattened(record)
    json_columns = self.__dict__.get("_omniload_json_columns")
    if json_columns is None:
        json_columns = self._omniload_json_columns = _json_columns(self.flatten_schema)
    row = []
    for name in self.flatten_schema:
        if name not in record:
            row.append(None)
            continue
        value = record[name]
        if isinstance(value, (dict, list)):
            value = _dump(value)
        elif name in json_columns:
            value = json.dumps(value)
        row.append(value)  # "", 0 and false stay (0.8.0 turned every falsy value into NULL)
    return row


def record_primary_key_string(self: Any, record: dict[str, Any]) -> str | None:
    """Primary-key string for ``record``: like 0.8.0's, without flattening the whole record."""
    if self.data_flattening_max_level:
        return self._omniload_original_pk_string(record)
    keys = self.stream_schema_message["key_properties"]
    if not keys:
        return None
    parts = []
    for key in keys:
        value = record[key]
        parts.append(str(_dump(value) if isinstance(value, (dict, list)) else value))
    return ",".join(parts)


def fast_loads(line: str | bytes) -> Any:
    """``json.loads`` with msgspec; errors surface as ``json.JSONDecodeError`` as before."""
    try:
        return _decode(line)
    except msgspec.DecodeError as exc:
        text = line if isinstance(line, str) else line.decode(errors="replace")
        raise json.JSONDecodeError(str(exc), text, 0) from exc


class _JsonShim:
    """Stands in for the ``json`` module inside ``target_duckdb``: fast ``loads``, rest stdlib."""

    def __getattr__(self, name: str) -> Any:
        return getattr(json, name)

    loads = staticmethod(fast_loads)


def apply_speedups(target_module: Any, db_sync_cls: Any) -> bool:
    """Install the fast paths on ``db_sync_cls`` and ``target_module``; False if already done."""
    if getattr(db_sync_cls, _MARKER, False):
        return False
    db_sync_cls._omniload_original_to_flattened = db_sync_cls.record_to_flattened
    db_sync_cls._omniload_original_pk_string = db_sync_cls.record_primary_key_string
    db_sync_cls.record_to_flattened = record_to_flattened
    db_sync_cls.record_primary_key_string = record_primary_key_string
    target_module.json = _JsonShim()
    setattr(db_sync_cls, _MARKER, True)
    return True
