"""ClickHouse in-process through chDB: one shared engine, one database per simulator.

chDB runs one ClickHouse server per process: every ``chdb.session.Session`` talks to the same
engine and sees the same databases (checked with chdb 4.4). Tests start several simulators in one
process, in threads, so the engine is opened once, each simulator gets its own database
(``sim_<n>``), and every statement runs under one process-wide lock. The engine itself costs
about 400 MB of resident memory once per process; each simulator adds only its tables.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from typing import Any

_engine_lock = threading.RLock()
_session: Any = None
_counter = itertools.count(1)


class ClickHouseError(Exception):
    """An error ClickHouse raised (``code`` is ClickHouse's numeric error code when known)."""

    def __init__(self, message: str, code: int | None) -> None:
        """Keep the message and the code."""
        super().__init__(message)
        self.code = code


@dataclass
class Result:
    """A query result: column names and ClickHouse types, rows, and ClickHouse's statistics."""

    names: list[str]
    types: list[str]
    rows: list[list[Any]]
    rows_read: int
    bytes_read: int


def _open() -> Any:
    global _session
    if _session is None:
        from chdb import session

        _session = session.Session()
    return _session


def _code(message: str) -> int | None:
    head = message.split("Code: ", 1)
    if len(head) == 2 and head[1].split(".", 1)[0].isdigit():
        return int(head[1].split(".", 1)[0])
    return None


class Database:
    """One simulator's ClickHouse database on the shared chDB engine."""

    def __init__(self) -> None:
        """Create a fresh, empty database."""
        self.name = f"sim_{next(_counter)}"
        self.execute(f"DROP DATABASE IF EXISTS {self.name}")
        self.execute(f"CREATE DATABASE {self.name}")

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, INSERT)."""
        self._run(sql, "CSV", params)

    def _run(self, sql: str, fmt: str, params: dict[str, Any] | None) -> Any:
        with _engine_lock:
            session = _open()
            try:
                return session.query(sql, fmt, params=params or None)
            except Exception as exc:  # chdb raises its own ChdbError (a RuntimeError)
                message = str(exc)
                raise ClickHouseError(message, _code(message)) from exc

    def query(self, sql: str, params: dict[str, Any] | None = None) -> Result:
        """Run a SELECT; datetimes come back as ISO text in UTC (``date_time_output_format='iso'``).

        ``rows_read``/``bytes_read`` are ClickHouse's storage read statistics
        (``storage_rows_read``): chDB's plain ``rows_read`` counts result rows instead.
        """
        raw = self._run(sql, "JSONCompact", params)
        body = json.loads(raw.bytes() or b"{}") if raw.bytes() else {"meta": [], "data": []}
        meta = body.get("meta", [])
        return Result(
            names=[m["name"] for m in meta],
            types=[m["type"] for m in meta],
            rows=body.get("data", []),
            rows_read=int(raw.storage_rows_read()),
            bytes_read=int(raw.storage_bytes_read()),
        )

    def insert_arrow(self, table: str, select_sql: str, data: Any) -> None:
        """``INSERT INTO table SELECT <select_sql> FROM Python(data)`` for a pyarrow table."""
        with _engine_lock:
            session = _open()
            # chDB resolves Python(<name>) in the caller's frame: the local variable ``data``.
            try:
                session.query(f"INSERT INTO {self.name}.{table} {select_sql} FROM Python(data)")
            except Exception as exc:
                message = str(exc)
                raise ClickHouseError(message, _code(message)) from exc

    def drop(self) -> None:
        """Drop the database and everything in it."""
        self.execute(f"DROP DATABASE IF EXISTS {self.name}")
