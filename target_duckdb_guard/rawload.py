"""Records kept as the tap's JSON text and loaded by DuckDB's JSON reader (target-duckdb 0.8.0).

Profiling ``omniload ingest`` of 200,000 events showed target-duckdb spending most of its CPU
in Python: decoding every record into dicts, re-encoding ``properties``, writing the lossless
CSV one field at a time, and DuckDB parsing that CSV into a table kept on disk with a key index.
This module keeps the same steps of ``persist_lines`` and the same SQL around the load, with
cheaper data handling when records are neither validated nor given metadata columns:

- a RECORD line is decoded only down to its ``record``, kept as raw JSON bytes
  (:class:`msgspec.Raw`); the batch's key de-duplication decodes the key fields alone;
- a batch is written once as newline-delimited JSON, each line
  ``{"j0": <text of JSON column 0 as a JSON string>, ..., "r": <the record as sent>}``, and
  read with ``read_ndjson`` into a temporary table in memory (no index; rows are unique by key);
- every non-JSON column is read as text from ``r`` and cast to its column type by DuckDB, as
  the CSV path's COPY does with the same text: strings exactly as sent ("" is not NULL, NUL,
  control characters and any Unicode kept), integers of any size, floats from their JSON text,
  booleans, timestamps; JSON null or a missing key is NULL;
- a JSON column (object/array) is loaded from its own text as the tap sent it, byte for byte
  (``VARCHAR::JSON`` keeps the text; DuckDB's reader would re-serialise an object).

With ``validate_records``, ``add_metadata_columns`` or ``hard_delete`` the records are decoded
to dicts as before (validation and metadata need them) and encoded once for the same JSON load.
Flattening levels above 0 (which the guard forbids) keep the CSV load of ``exact.py``, which is
also the reference the JSON load is tested against.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

import msgspec
from target_duckdb.db_sync import column_type, safe_column_name

from target_duckdb_guard.exact import move_from_temp_table
from target_duckdb_guard.speed import fast_loads

_MARKER = "_omniload_raw_patch"
#: Config keys that need records as dicts (validation or metadata columns change them).
DICT_SETTINGS = ("validate_records", "add_metadata_columns", "hard_delete")
NULL = msgspec.Raw(b"null")
#: Records encoded per block of the batch file (bounds the memory of one block).
BLOCK = 4096
#: DuckDB's default ``maximum_object_size``; larger lines raise it for their batch.
MIN_OBJECT_SIZE = 16 << 20

_encode = msgspec.json.Encoder().encode
_encode_lines = msgspec.json.Encoder().encode_lines


class _Head(msgspec.Struct):
    """What ``persist_lines`` reads of a RECORD message; the record stays JSON text."""

    type: Any = msgspec.UNSET
    stream: Any = msgspec.UNSET
    record: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_decode_head = msgspec.json.Decoder(_Head).decode


class LineDecoder:
    """``json.loads`` for target-duckdb: RECORD lines keep their record as raw JSON when on."""

    def __init__(self) -> None:
        """Start with raw records off (dicts everywhere, as before)."""
        self.raw_records = False

    def __call__(self, line: str | bytes) -> Any:
        """Decode one Singer line.

        Returns:
            The message as a dict; with raw records on, a RECORD's ``record`` is a
            :class:`msgspec.Raw` and the other keys of the message are left out (nothing reads
            them then).
        """
        if self.raw_records:
            try:
                head = _decode_head(line)
            except msgspec.ValidationError:
                head = None  # not an object: the full decode reports it as before
            except msgspec.DecodeError as exc:
                text = line if isinstance(line, str) else line.decode(errors="replace")
                raise json.JSONDecodeError(str(exc), text, 0) from exc
            if (
                head is not None
                and head.type == "RECORD"
                and head.stream is not msgspec.UNSET
                and head.record is not msgspec.UNSET
            ):
                return {"type": "RECORD", "stream": head.stream, "record": head.record}
        return fast_loads(line)


def _struct(fields: list[tuple[str, str, Any, Any]]) -> Any:
    """A struct type with fields ``(attribute, JSON key, type, default)``; keys may be any text."""
    spec = [
        (attr, kind) if default is msgspec.NODEFAULT else (attr, kind, default)
        for attr, _, kind, default in fields
    ]
    rename = {attr: key for attr, key, _, _ in fields}
    return msgspec.defstruct("Fields", spec, rename=rename)


def _key_text(value: Any) -> str:
    """One key value as target-duckdb's batch key text (objects as compact JSON)."""
    return str(_encode(value).decode() if isinstance(value, (dict, list)) else value)


def record_primary_key_string(self: Any, record: Any) -> str | None:
    """No batch key for a raw record: :func:`load_rows` de-duplicates the batch by key.

    ``persist_lines`` then keys the record by its position (as for a stream without a key);
    dict records keep the previous method.
    """
    if isinstance(record, msgspec.Raw):
        return None
    return self._omniload_dict_pk_string(record)  # type: ignore[no-any-return]


class _Layout:
    """How one stream's records map onto the batch file and the columns of its table."""

    def __init__(self, flatten_schema: dict[str, Any], key_properties: list[str]) -> None:
        self.json_names = [n for n, p in flatten_schema.items() if column_type(p) == "json"]
        self.keys = keys = list(key_properties)
        json_attr = {name: f"j{i}" for i, name in enumerate(self.json_names)}
        fields = [(f"k{i}", name, Any, msgspec.NODEFAULT) for i, name in enumerate(self.keys)]
        fields += [(attr, name, msgspec.Raw, NULL) for name, attr in json_attr.items()]
        #: Decodes a block of records to their key values and the text of their JSON columns.
        self.decode = msgspec.json.Decoder(list[_struct(fields)]).decode
        self.key_values = attrgetter(*(f"k{i}" for i in range(len(self.keys)))) if keys else None
        self.texts = attrgetter(*json_attr.values()) if json_attr else None
        self.line = msgspec.defstruct("Line", [*((a, str) for a in json_attr.values()), ("r", Any)])
        plain = [name for name in flatten_schema if name not in json_attr]
        columns = {attr: "VARCHAR" for attr in json_attr.values()}
        if plain:
            columns["r"] = "STRUCT(" + ", ".join(f"{_quote(n)} VARCHAR" for n in plain) + ")"
        self.columns_sql = "{" + ", ".join(f"{_text(k)}: {_text(v)}" for k, v in columns.items())
        self.columns_sql += "}"
        self.select_sql = ", ".join(
            f"CAST(NULLIF({json_attr[name]}, 'null') AS JSON)"
            if name in json_attr
            else f"CAST(r.{_quote(name)} AS {column_type(prop)})"
            for name, prop in flatten_schema.items()
        )
        self.column_names = ", ".join(safe_column_name(n) for n in flatten_schema)

    def key_text(self, item: Any) -> str:
        """A decoded record's batch key: the text of 0.8.0's ``record_primary_key_string``."""
        values = self.key_values(item)  # type: ignore[misc]
        if len(self.keys) == 1:
            return values if type(values) is str else _key_text(values)  # type: ignore[no-any-return]
        return ",".join(map(_key_text, values))

    def unique(self, raws: list[msgspec.Raw], dict_key: Any) -> list[tuple[Any, msgspec.Raw]]:
        """The batch's records decoded, the last of each key in the place of its first.

        Args:
            raws: The batch's records as JSON text, in arrival order.
            dict_key: The dict path's key method; it raises the original error for a record
                that lacks a key field or is not an object.
        """
        by_key: dict[str, tuple[Any, msgspec.Raw]] = {}
        rows: list[tuple[Any, msgspec.Raw]] = []
        for start in range(0, len(raws), BLOCK):
            block = raws[start : start + BLOCK]
            try:
                decoded = self.decode(b"[" + b",".join(block) + b"]")
            except msgspec.ValidationError:
                for raw in block:
                    dict_key(msgspec.json.decode(raw))
                raise
            if not self.keys:
                rows.extend(zip(decoded, block, strict=True))
                continue
            key_text = self.key_text
            for item, raw in zip(decoded, block, strict=True):
                by_key[key_text(item)] = (item, raw)
        return rows if not self.keys else list(by_key.values())

    def write(self, rows: list[tuple[Any, msgspec.Raw]], out: Any) -> int:
        """Write the batch file; return a bound on its longest line."""
        longest = 0
        line, texts = self.line, self.texts
        for start in range(0, len(rows), BLOCK):
            block = rows[start : start + BLOCK]
            if texts is None:
                lines = [line(raw) for _, raw in block]
            elif len(self.json_names) == 1:
                lines = [line(str(texts(item), "utf-8"), raw) for item, raw in block]
            else:
                lines = [
                    line(*(str(text, "utf-8") for text in texts(item)), raw) for item, raw in block
                ]
            out.write(_encode_lines(lines))
            # JSON columns are parts of the record; quoting a text at most doubles it.
            widest = max(len(raw) for _, raw in block)
            longest = max(longest, 3 * widest + 16 * len(self.json_names) + 16)
        return longest


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _layout(self: Any) -> _Layout:
    layout = self.__dict__.get("_omniload_layout")
    if layout is None:
        keys = self.stream_schema_message["key_properties"]
        layout = self._omniload_layout = _Layout(self.flatten_schema, keys)
    return layout


def _as_raw(record: Any) -> msgspec.Raw:
    """A record as JSON text: raw records as they came, dicts encoded once."""
    if isinstance(record, msgspec.Raw):
        return record
    try:
        return msgspec.Raw(_encode(record))
    except (TypeError, msgspec.EncodeError):
        return msgspec.Raw(json.dumps(record).encode())


def load_rows(self: Any, records: Iterable[Any], count: int, temp_dir: str) -> None:
    """0.8.0's ``load_rows`` steps (temporary table, load, update, insert, drop), JSON file."""
    if self.data_flattening_max_level or not self.flatten_schema:
        # Flattened columns are not keys of the record: the CSV path of exact.py.
        return self._omniload_dict_load_rows(records, count, temp_dir)  # type: ignore[no-any-return]
    layout = _layout(self)
    rows = layout.unique([_as_raw(record) for record in records], self._omniload_dict_pk_string)
    stream = self.stream_schema_message["stream"]
    self.logger.info("Loading %d rows into '%s'", len(rows), self.table_name(stream, False))
    cur = self.conn
    temp_table = self.table_name(stream, is_temporary=True)
    temp_file = os.path.join(temp_dir, f"{temp_table}.ndjson")
    columns = ", ".join(
        f"{safe_column_name(n)} {column_type(p)}" for n, p in self.flatten_schema.items()
    )
    # In memory and without an index: the table lives for one batch, its keys are unique.
    cur.execute(f"CREATE TEMP TABLE {temp_table} ({columns})")
    try:
        with open(temp_file, "wb") as out:
            longest = layout.write(rows, out)
        cur.execute(
            f"INSERT INTO {temp_table} ({layout.column_names}) SELECT {layout.select_sql} "
            f"FROM read_ndjson({_text(temp_file)}, columns={layout.columns_sql}, "
            f"maximum_object_size={max(MIN_OBJECT_SIZE, longest)})"
        )
        move_from_temp_table(self, temp_table)
    finally:
        if os.path.exists(temp_file):
            os.unlink(temp_file)
    return None


def raw_records_allowed(config: dict[str, Any]) -> bool:
    """Whether records may stay raw JSON: nothing validates them or adds metadata to them."""
    return not any(config.get(key) for key in DICT_SETTINGS) and not config.get(
        "data_flattening_max_level"
    )


def apply_raw_load(db_sync_cls: Any) -> bool:
    """Install the raw-record key and load on ``db_sync_cls``; False if done before.

    Call after :func:`target_duckdb_guard.exact.apply_exact` and
    :func:`target_duckdb_guard.speed.apply_speedups`: dict records keep their methods.
    """
    if getattr(db_sync_cls, _MARKER, False):
        return False
    db_sync_cls._omniload_dict_pk_string = db_sync_cls.record_primary_key_string
    db_sync_cls._omniload_dict_load_rows = db_sync_cls.load_rows
    db_sync_cls.record_primary_key_string = record_primary_key_string
    db_sync_cls.load_rows = load_rows
    setattr(db_sync_cls, _MARKER, True)
    return True
