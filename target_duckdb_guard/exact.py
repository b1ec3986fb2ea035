"""Exact values for target-duckdb 0.8.0: what the tap sends is what DuckDB stores.

0.8.0 loses values on the way (see docs, toolchain.md defect 4): ``record_to_flattened`` keeps
a value only if ``v == 0 or v``, so ``""``, ``[]`` and ``{}`` become NULL, and ``load_rows``
writes the batch with ``csv.writer`` (an empty string and a NULL are the same empty field) and
reads it back with DuckDB's sniffer (which also drops the first row, defect 1).

:func:`load_rows` replaces 0.8.0's with the same steps (temporary table, COPY, update, insert,
drop) and a lossless CSV: NULL is an empty unquoted field, every string is quoted (so ``""`` is
the empty string, with ``allow_quoted_nulls false``), booleans are ``true``/``false``, integers
and floats use Python's exact ``str``/``repr``, and the COPY names every option instead of
sniffing (``HEADER false``, ``AUTO_DETECT false``). Quoted fields carry newlines, tabs, other
control characters and NUL unchanged; JSON columns keep their text byte for byte (integers
beyond 2^53 stay exact). Timestamps are the tap's UTC strings, parsed by DuckDB to the
microsecond.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

_MARKER = "_omniload_exact_patch"
COPY_OPTIONS = (
    "FORMAT csv, HEADER false, AUTO_DETECT false, DELIMITER ',', QUOTE '\"', ESCAPE '\"', "
    "NEW_LINE '\\n', ALLOW_QUOTED_NULLS false"
)


def csv_field(value: Any) -> str:
    """One CSV field: NULL empty and unquoted, strings always quoted, numbers exact.

    Args:
        value: A flattened value (dicts and lists are already JSON text).

    Returns:
        The field text, without delimiter.
    """
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    text = value if isinstance(value, str) else str(value)
    return '"' + text.replace('"', '""') + '"'


def csv_line(row: Iterable[Any]) -> str:
    """One CSV line (newline-terminated) of a flattened row."""
    return ",".join(map(csv_field, row)) + "\n"


def copy_statement(table: str, path: str) -> str:
    """The COPY that reads a file written with :func:`csv_line` into ``table``."""
    return f"COPY {table} FROM '{path.replace(chr(39), chr(39) * 2)}' ({COPY_OPTIONS})"


def load_rows(self: Any, records: Iterable[dict[str, Any]], count: int, temp_dir: str) -> None:
    """0.8.0's ``DbSync.load_rows`` with a lossless CSV round trip (same SQL around it)."""
    stream = self.stream_schema_message["stream"]
    self.logger.info("Loading %d rows into '%s'", count, self.table_name(stream, False))
    cur = self.conn
    temp_table = self.table_name(stream, is_temporary=True)
    temp_file = os.path.join(temp_dir, f"{temp_table}.csv")
    cur.execute(self.create_table_query(table_name=temp_table, is_temporary=True))
    try:
        with open(temp_file, "w", encoding="utf-8", newline="") as out:
            out.writelines(csv_line(self.record_to_flattened(record)) for record in records)
        cur.execute(copy_statement(temp_table, temp_file))
        move_from_temp_table(self, temp_table)
    finally:
        if os.path.exists(temp_file):
            os.unlink(temp_file)


def move_from_temp_table(self: Any, temp_table: str) -> None:
    """0.8.0's steps after a batch is in ``temp_table``: update, insert, drop."""
    cur = self.conn
    if self.stream_schema_message["key_properties"]:
        update = self.update_from_temp_table(temp_table)
        if update is not None:  # None when every column is a key column
            cur.execute(update)
    cur.execute(self.insert_from_temp_table(temp_table))
    cur.execute(f"DROP TABLE {temp_table}")


def record_to_flattened(self: Any, record: dict[str, Any]) -> list[Any]:
    """0.8.0's flattening without its falsy filter: ``""``, ``0``, ``false`` stay."""
    from target_duckdb.db_sync import flatten_record

    flat = flatten_record(record, self.flatten_schema, max_level=self.data_flattening_max_level)
    return [flat.get(name) for name in self.flatten_schema]


def apply_exact(db_sync_cls: Any) -> bool:
    """Install the exact ``load_rows`` and flattening on ``db_sync_cls``; False if done before.

    Call before :func:`target_duckdb_guard.speed.apply_speedups`, whose fast flattening keeps
    the same values and falls back to this one for other flattening levels.
    """
    if getattr(db_sync_cls, _MARKER, False):
        return False
    db_sync_cls.load_rows = load_rows
    db_sync_cls.record_to_flattened = record_to_flattened
    setattr(db_sync_cls, _MARKER, True)
    return True
