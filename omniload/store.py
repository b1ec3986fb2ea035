"""The destination DuckDB file: connections, staging schemas and cleanup, saved state.

The one-transaction apply of a run is in ``load``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from omniload.errors import RunError, UsageError
from omniload.uri import DestTable

#: DuckDB buffer memory for the apply step; DuckDB spills to disk past it.
MEMORY_LIMIT = "160MB"
#: Every connection omniload opens: never install or load a DuckDB extension (no network).
OFFLINE_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
#: How long the final apply waits for another process's momentary lock on the file.
APPLY_LOCK_WAIT = 15.0
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


def stage_prefix(source_key: str, dest_table: str) -> str:
    """Common prefix of the staging schemas of one (source, destination) pair."""
    digest = hashlib.sha256(f"{source_key}\n{dest_table.lower()}".encode()).hexdigest()[:16]
    return f"{STAGE_PREFIX}{digest}_"


def stage_schema_name(source_key: str, dest_table: str) -> str:
    """A staging schema of this run's own (a random suffix: no two runs share one)."""
    return stage_prefix(source_key, dest_table) + secrets.token_hex(4)


def _is_lock_error(exc: BaseException) -> bool:
    return "lock" in str(exc).lower()


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(path), config=dict(OFFLINE_CONFIG))
    except duckdb.IOException as exc:
        if _is_lock_error(exc):
            raise
        text = str(exc)
        if "not a valid DuckDB database" in text or "extension" in text.lower():
            raise UsageError(f"{path} is not a DuckDB database file") from None
        raise RunError(f"cannot open destination database {path}: {first_line(exc)}") from None
    except (duckdb.Error, OSError) as exc:
        raise RunError(f"cannot open destination database {path}: {first_line(exc)}") from None


@contextmanager
def connect(
    path: Path, lock_wait: float = 0.0, on_retry: Callable[[int], None] | None = None,
    temp_dir: Path | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:  # fmt: skip
    """Open the destination file (creating parent folders), never fetching an extension.

    Args:
        path: The DuckDB file.
        lock_wait: Seconds to keep retrying while another process holds the file's lock.
        on_retry: Called with the attempt number before each retry.
        temp_dir: Where DuckDB spills past its memory limit (default: ``<file>.tmp``).

    Raises:
        RunError: The file stays locked by another process or cannot be opened.
        UsageError: The file is not a DuckDB database.
    """
    deadline, attempt, pause = time.monotonic() + lock_wait, 0, 0.05
    while True:
        try:
            con = _open(path)
            break
        except duckdb.IOException as exc:
            attempt += 1
            if time.monotonic() + pause > deadline:
                raise RunError(
                    f"destination database is locked by another process: {path}", str(exc)
                ) from None
            if on_retry is not None:
                on_retry(attempt)
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        if temp_dir is not None:
            con.execute("SET temp_directory = ?", [str(temp_dir)])
        yield con
    finally:
        con.close()


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (its type name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def fq(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """Catalog-qualified table (a file named like a schema makes ``schema.table`` ambiguous)."""
    row = con.execute("SELECT current_database()").fetchone()
    return ".".join(q(p) for p in (row[0] if row else "main", schema, table))


def stage_schemas(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every ``_omniload_stage_*`` schema in the file."""
    rows = con.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
    ).fetchall()
    return [r[0] for r in rows if r[0].lower().startswith(STAGE_PREFIX)]


def check_catalog_name(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """The target names tables ``"<file stem>".schema.table``: DuckDB must use the stem too.

    Raises:
        UsageError: DuckDB attached the file under another name (``main.duckdb`` -> ``main_db``).
    """
    row = con.execute("SELECT current_database()").fetchone()
    name = row[0] if row else ""
    stem = path.name.rsplit(".", 1)[0] if "." in path.name else path.name
    if name != stem:
        raise UsageError(
            f"the DuckDB file name {path.name!r} cannot be used: DuckDB reserves {stem!r} and "
            f"names the file {name!r}; rename the file"
        )


def prepare(path: Path, source_key: str, dest: DestTable, stage_schema: str) -> dict | None:
    """Drop staging left by dead runs, create this run's, return the saved state (or None).

    The caller holds the destination lock, so every other staging schema is a dead run's.
    """
    with connect(path) as con:
        check_catalog_name(con, path)
        check_dest_name(con, dest)
        for schema in stage_schemas(con):
            con.execute(f"DROP SCHEMA IF EXISTS {q(schema)} CASCADE")
        con.execute(f"CREATE SCHEMA {q(stage_schema)}")
        return read_state(con, source_key, str(dest))


def drop_stage(path: Path, stage_schema: str) -> None:
    """Drop one staging schema."""
    with connect(path) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {q(stage_schema)} CASCADE")


def check_dest_name(con: duckdb.DuckDBPyConnection, dest: DestTable) -> None:
    """Refuse a destination that DuckDB would resolve to omniload's own tables.

    Raises:
        UsageError: The schema is omniload's (compared as DuckDB does, ignoring case).
    """
    if dest.schema.lower() == STATE_SCHEMA or dest.schema.lower().startswith(STAGE_PREFIX):
        raise UsageError(f"--dest-table {dest} is omniload's own schema; choose another")


def read_state(con: duckdb.DuckDBPyConnection, source_key: str, dest_table: str) -> dict | None:
    """Return the saved state for the pair, or None."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND lower(schema_name) = ? AND lower(table_name) = 'state'",
        [STATE_SCHEMA],
    ).fetchone()
    if not exists or not exists[0]:
        return None
    row = con.execute(
        f"SELECT state FROM {fq(con, STATE_SCHEMA, 'state')} "
        "WHERE source_key = ? AND lower(dest_table) = lower(?) ORDER BY updated_at DESC LIMIT 1",
        [source_key, dest_table],
    ).fetchone()
    return json.loads(row[0]) if row and row[0] is not None else None


def write_state(
    con: duckdb.DuckDBPyConnection, source_key: str, dest_table: str, state: dict
) -> None:
    """Upsert the state row (inside the caller's transaction); names are kept lower-case."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(STATE_SCHEMA)}")
    con.execute(_STATE_DDL.format(table=fq(con, STATE_SCHEMA, "state")))
    con.execute(
        f"DELETE FROM {fq(con, STATE_SCHEMA, 'state')} WHERE source_key = ? "
        "AND lower(dest_table) = lower(?) AND dest_table <> lower(dest_table)",
        [source_key, dest_table],
    )
    con.execute(
        f"INSERT INTO {fq(con, STATE_SCHEMA, 'state')} VALUES (?, ?, ?, ?) "
        "ON CONFLICT (source_key, dest_table) DO UPDATE "
        "SET state = excluded.state, updated_at = excluded.updated_at",
        [source_key, dest_table.lower(), json.dumps(state), datetime.now(UTC).replace(tzinfo=None)],
    )
