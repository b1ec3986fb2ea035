"""The destination DuckDB file: staging cleanup, saved state, and the one-transaction apply."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from omniload import deletions
from omniload.errors import RunError
from omniload.interval import Interval
from omniload.uri import DestTable

#: DuckDB buffer memory for the apply step; DuckDB spills to disk past it.
MEMORY_LIMIT = "160MB"
STATE_SCHEMA = "_omniload"
STAGE_PREFIX = "_omniload_stage_"
_STATE_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    source_key VARCHAR, dest_table VARCHAR, state JSON, updated_at TIMESTAMP,
    PRIMARY KEY (source_key, dest_table))
"""


def q(name: str) -> str:
    """Quote a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def stage_schema_name(source_key: str, dest_table: str) -> str:
    """Staging schema for one (source, destination) pair; a killed run's leftover is reused."""
    digest = hashlib.sha256(f"{source_key}\n{dest_table}".encode()).hexdigest()[:16]
    return STAGE_PREFIX + digest


@contextmanager
def connect(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the destination file (creating parent folders) with clear errors.

    Raises:
        RunError: The file is locked by another process or cannot be opened.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise RunError(
                f"destination database is locked by another process: {path}", str(exc)
            ) from None
        raise RunError(f"cannot open destination database {path}: {_first_line(exc)}") from None
    except (duckdb.Error, OSError) as exc:
        raise RunError(f"cannot open destination database {path}: {_first_line(exc)}") from None
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        yield con
    finally:
        con.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def prepare(path: Path, source_key: str, dest: DestTable, stage_schema: str) -> dict | None:
    """Drop a leftover staging schema and return the saved state (None if there is none)."""
    with connect(path) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {q(stage_schema)} CASCADE")
        return read_state(con, source_key, str(dest))


def read_state(con: duckdb.DuckDBPyConnection, source_key: str, dest_table: str) -> dict | None:
    """Return the saved state for the pair, or None."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = 'state'",
        [STATE_SCHEMA],
    ).fetchone()
    if not exists or not exists[0]:
        return None
    row = con.execute(
        f"SELECT state FROM {_fq(con, STATE_SCHEMA, 'state')} "
        "WHERE source_key = ? AND dest_table = ?",
        [source_key, dest_table],
    ).fetchone()
    return json.loads(row[0]) if row and row[0] is not None else None


def write_state(
    con: duckdb.DuckDBPyConnection, source_key: str, dest_table: str, state: dict
) -> None:
    """Upsert the state row (inside the caller's transaction)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(STATE_SCHEMA)}")
    con.execute(_STATE_DDL.format(table=_fq(con, STATE_SCHEMA, "state")))
    con.execute(
        f"INSERT INTO {_fq(con, STATE_SCHEMA, 'state')} VALUES (?, ?, ?, ?) "
        "ON CONFLICT (source_key, dest_table) DO UPDATE "
        "SET state = excluded.state, updated_at = excluded.updated_at",
        [source_key, dest_table, json.dumps(state), datetime.now(UTC).replace(tzinfo=None)],
    )


@dataclass(frozen=True)
class ApplyPlan:
    """Everything needed to move the staged rows into the destination table."""

    stage_schema: str
    stage_table: str
    dest: DestTable
    strategy: str
    primary_key: tuple[str, ...]
    skip_existing_ids: bool
    source_key: str
    interval: Interval = field(default_factory=Interval)
    incremental_key: str | None = None
    new_state: dict | None = None
    #: ``hard``/``mark`` after a complete whole read (see ``deletions.py``); None: keep rows.
    deletions: str | None = None


def columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """Column name (lower-case) -> type of a table in the current database; empty if missing."""
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
        "current_database() AND schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, table],
    ).fetchall()
    return {name.lower(): dtype for name, dtype in rows}


def _interval_filter(plan: ApplyPlan, stage_cols: dict[str, str]) -> tuple[str, list[Any]]:
    """SQL predicate (and parameters) keeping staged rows inside the interval."""
    interval = plan.interval
    if not interval.is_set:
        return "TRUE", []
    key = (plan.incremental_key or "").lower()
    if key not in stage_cols:
        return "FALSE", []
    dtype = stage_cols[key].upper()
    column, naive = q(key), False
    if dtype == "TIMESTAMP" or dtype.startswith("TIMESTAMP_") or dtype.startswith("TIMESTAMP("):
        naive = True
    elif dtype != "TIMESTAMP WITH TIME ZONE":
        column = f"TRY_CAST({column} AS TIMESTAMPTZ)"
    terms, params = [f"{column} IS NOT NULL"], []
    for bound, op in ((interval.start, ">="), (interval.end, "<")):
        if bound is not None:
            terms.append(f"{column} {op} ?")
            params.append(bound.astimezone(UTC).replace(tzinfo=None) if naive else bound)
    return " AND ".join(terms), params


def _fq(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """Catalog-qualified table (a file named like a schema makes ``schema.table`` ambiguous)."""
    row = con.execute("SELECT current_database()").fetchone()
    return ".".join(q(p) for p in (row[0] if row else "main", schema, table))


def _key_match(left: str, right: str, key: tuple[str, ...]) -> str:
    return " AND ".join(f"{left}.{q(k)} = {right}.{q(k)}" for k in key)


def _count(result: duckdb.DuckDBPyConnection) -> int:
    row = result.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _check_key(plan: ApplyPlan, stage_cols: dict[str, str]) -> tuple[str, ...]:
    key = tuple(k.lower() for k in plan.primary_key)
    missing = [k for k in key if k not in stage_cols]
    if missing and (plan.strategy == "merge" or plan.skip_existing_ids):
        raise RunError(f"primary key column(s) not in the data: {', '.join(missing)}")
    return key


def _load_into_existing(
    con: duckdb.DuckDBPyConnection, plan: ApplyPlan, dest: str, stage_cols: dict[str, str]
) -> int:
    """Create/extend ``dest`` and merge or append the filtered staged rows into it."""
    stage = _fq(con, plan.stage_schema, plan.stage_table)
    where, params = _interval_filter(plan, stage_cols)
    con.execute(f"CREATE TABLE IF NOT EXISTS {dest} AS SELECT * FROM {stage} LIMIT 0")
    dest_cols = columns(con, plan.dest.schema, plan.dest.table)
    for name, dtype in stage_cols.items():
        if name not in dest_cols:
            con.execute(f"ALTER TABLE {dest} ADD COLUMN {q(name)} {dtype}")
    key = _check_key(plan, stage_cols)
    source = f"(SELECT * FROM {stage} WHERE {where}) s"
    if plan.strategy == "merge":
        con.execute(
            f"DELETE FROM {dest} d WHERE EXISTS (SELECT 1 FROM {source} "
            f"WHERE {_key_match('d', 's', key)})",
            params,
        )
    if plan.strategy == "append" and plan.skip_existing_ids:
        # Immutable rows keep their incremental key, so a repeat of a staged row lies within
        # the staged key range: compare only with those rows (a small hash table, whatever
        # the size of the destination).
        span = ""
        inc = plan.incremental_key
        if inc and inc.lower() in stage_cols:
            col = q(inc.lower())
            span = (
                f" AND d.{col} >= (SELECT min({col}) FROM {stage})"
                f" AND d.{col} <= (SELECT max({col}) FROM {stage})"
            )
        return _count(
            con.execute(
                f"INSERT INTO {dest} BY NAME SELECT s.* FROM {source} WHERE NOT EXISTS "
                f"(SELECT 1 FROM {dest} d WHERE {_key_match('d', 's', key)}{span})",
                params,
            )
        )
    return _count(con.execute(f"INSERT INTO {dest} BY NAME SELECT s.* FROM {source}", params))


def _replace(
    con: duckdb.DuckDBPyConnection, plan: ApplyPlan, dest: str, stage_cols: dict[str, str]
) -> int:
    """Build the new table beside the old one, then swap them."""
    new_name = f"_omniload_new_{plan.dest.table}"
    new = _fq(con, plan.dest.schema, new_name)
    con.execute(f"DROP TABLE IF EXISTS {new}")
    if stage_cols:
        stage = _fq(con, plan.stage_schema, plan.stage_table)
        where, params = _interval_filter(plan, stage_cols)
        con.execute(f"CREATE TABLE {new} AS SELECT * FROM {stage} WHERE {where}", params)
    elif columns(con, plan.dest.schema, plan.dest.table):
        con.execute(f"CREATE TABLE {new} AS SELECT * FROM {dest} LIMIT 0")
    else:
        return 0
    rows = _count(con.execute(f"SELECT count(*) FROM {new}"))
    con.execute(f"DROP TABLE IF EXISTS {dest}")
    con.execute(f"ALTER TABLE {new} RENAME TO {q(plan.dest.table)}")
    return rows


def apply(path: Path, plan: ApplyPlan) -> int:
    """Apply the staged rows and the new state in one transaction; return rows written.

    The staging schema is dropped afterwards. If anything fails before the commit, the
    destination table and the saved state are left as they were.

    Raises:
        RunError: The database is locked or a statement fails.
    """
    with connect(path) as con:
        dest = _fq(con, plan.dest.schema, plan.dest.table)
        con.execute("BEGIN TRANSACTION")
        try:
            stage_cols = columns(con, plan.stage_schema, plan.stage_table)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(plan.dest.schema)}")
            if plan.strategy == "replace":
                rows = _replace(con, plan, dest, stage_cols)
            elif stage_cols:
                rows = _load_into_existing(con, plan, dest, stage_cols)
                if plan.deletions:
                    stage = _fq(con, plan.stage_schema, plan.stage_table)
                    key = _check_key(plan, stage_cols)
                    deletions.apply(con, dest, stage, key, plan.deletions)
            else:
                rows = 0
            if plan.new_state is not None:
                write_state(con, plan.source_key, str(plan.dest), plan.new_state)
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise RunError(
                f"loading into {plan.dest} failed: {_first_line(exc)}", str(exc)
            ) from None
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute(f"DROP SCHEMA IF EXISTS {q(plan.stage_schema)} CASCADE")
        return rows
