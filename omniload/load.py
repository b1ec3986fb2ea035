"""The one-transaction apply: staged rows and the new state into the destination table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb

from omniload import deletions, signals, store
from omniload.errors import RunError
from omniload.interval import Interval
from omniload.store import first_line, fq, q
from omniload.uri import DestTable


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
    #: RECORD messages relayed to the target; the staged rows must number exactly this.
    expected_rows: int | None = None
    #: The user chose the key (``--primary-key``): it must be unique where the strategy uses it.
    key_overridden: bool = False

    @property
    def uses_key(self) -> bool:
        """The strategy matches rows on the primary key (merge; append that skips loaded ids)."""
        return self.strategy == "merge" or (self.strategy == "append" and self.skip_existing_ids)


def columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """Column name (lower-case) -> type of a table in the current database; empty if missing."""
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
        "current_database() AND lower(schema_name) = lower(?) AND lower(table_name) = lower(?) "
        "ORDER BY column_index",
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


def staged_rows(
    con: duckdb.DuckDBPyConnection, plan: ApplyPlan, stage_cols: dict[str, str]
) -> str:
    """Check the staged rows and return the relation to load from.

    The staged rows must be exactly the records relayed (the target stages without a key, so
    nothing is merged away). Where the strategy matches on the key, a key chosen with
    ``--primary-key`` must be unique in them; repeats of the tap's own key (a row re-served
    while paging) keep the last row read, as target-duckdb's own merge did.

    Raises:
        RunError: Fewer or more rows staged than relayed, or a non-unique ``--primary-key``.
    """
    stage = fq(con, plan.stage_schema, plan.stage_table)
    staged = _count(con.execute(f"SELECT count(*) FROM {stage}")) if stage_cols else 0
    if plan.expected_rows is not None and staged != plan.expected_rows:
        raise RunError(
            f"the target staged {staged} of the {plan.expected_rows} rows read; nothing was "
            f"loaded into {plan.dest} and the bookmark was not moved"
        )
    if not stage_cols or not plan.uses_key:
        return stage
    keys = ", ".join(q(k) for k in _check_key(plan, stage_cols))
    repeats = f"SELECT 1 FROM {stage} GROUP BY {keys} HAVING count(*) > 1"
    repeated = _count(con.execute(f"SELECT count(*) FROM ({repeats})"))
    if not repeated:
        return stage
    if plan.key_overridden:
        raise RunError(
            f"--primary-key {','.join(plan.primary_key)} is not unique in the data read: "
            f"{repeated} key values occur more than once; nothing was loaded (choose a unique "
            "key, or --incremental-strategy append to keep every row)"
        )
    last = fq(con, plan.stage_schema, plan.stage_table + "__last")
    con.execute(
        f"CREATE TABLE {last} AS SELECT * FROM {stage} "
        f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY rowid DESC) = 1"
    )
    return last


def _load_into_existing(
    con: duckdb.DuckDBPyConnection, plan: ApplyPlan, dest: str, stage: str,
    stage_cols: dict[str, str],
) -> int:  # fmt: skip
    """Create/extend ``dest`` and merge or append the filtered staged rows into it."""
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
    con: duckdb.DuckDBPyConnection, plan: ApplyPlan, dest: str, stage: str,
    stage_cols: dict[str, str],
) -> int:  # fmt: skip
    """Build the new table beside the old one, then swap them."""
    new_name = f"_omniload_new_{plan.dest.table}"
    new = fq(con, plan.dest.schema, new_name)
    con.execute(f"DROP TABLE IF EXISTS {new}")
    if stage_cols:
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


def apply_strategy(con: duckdb.DuckDBPyConnection, plan: ApplyPlan) -> int:
    """Move the checked staged rows into the destination by the plan's strategy (no commit)."""
    dest = fq(con, plan.dest.schema, plan.dest.table)
    stage_cols = columns(con, plan.stage_schema, plan.stage_table)
    stage = staged_rows(con, plan, stage_cols)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(plan.dest.schema)}")
    if plan.strategy == "replace":
        return _replace(con, plan, dest, stage, stage_cols)
    if not stage_cols:
        return 0
    rows = _load_into_existing(con, plan, dest, stage, stage_cols)
    if plan.deletions:  # a complete whole read: rows absent from it are gone from PostHog
        deletions.apply(con, dest, stage, _check_key(plan, stage_cols), plan.deletions)
    return rows


def _commit(con: duckdb.DuckDBPyConnection) -> None:
    """COMMIT; from here a SIGINT/SIGTERM no longer interrupts the run (see ``signals``)."""
    with signals.committing():
        con.execute("COMMIT")


def apply(
    path: Path, plan: ApplyPlan, on_retry: Callable[[int], None] | None = None,
    temp_dir: Path | None = None,
) -> int:  # fmt: skip
    """Apply the staged rows and the new state in one transaction; return rows written.

    A momentary lock on the file by another process is waited out (``APPLY_LOCK_WAIT``). The
    staging schema is dropped afterwards. If anything fails before the commit, the destination
    table and the saved state are left as they were: a bookmark never moves without its rows.

    Raises:
        RunError: The database stays locked, the staged rows are not what was read, or a
            statement fails.
    """
    wait = store.APPLY_LOCK_WAIT
    with store.connect(path, lock_wait=wait, on_retry=on_retry, temp_dir=temp_dir) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            rows = apply_strategy(con, plan)
            if plan.new_state is not None:
                store.write_state(con, plan.source_key, str(plan.dest), plan.new_state)
            _commit(con)
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise RunError(
                f"loading into {plan.dest} failed: {first_line(exc)}", str(exc)
            ) from None
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute(f"DROP SCHEMA IF EXISTS {q(plan.stage_schema)} CASCADE")
        return rows
