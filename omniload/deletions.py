"""Rows deleted in PostHog leave the destination (or get marked) after a complete whole read.

A stream is *read whole* when the tap's catalog declares it ``FULL_TABLE`` (every dimension
stream; events are ``INCREMENTAL``). Its read is *complete* when the tap repeated the stream's
``ACTIVATE_VERSION`` after the last record (see ``tap_posthog/streams.py``): a tap that failed,
was stopped or was killed never sends it. Only then, and never for an interval run, does the
apply transaction compare the destination with the staged rows:

- ``hard`` (default): destination rows whose key is not staged are deleted;
- ``mark``: they keep their values and get ``_sdc_deleted_at`` = the time of the first run
  that found them missing; a row that comes back is loaded again with ``_sdc_deleted_at``
  NULL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

MODES = ("hard", "mark")
DEFAULT_MODE = "hard"
DELETED_AT = "_sdc_deleted_at"
FULL_TABLE = "FULL_TABLE"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def replication_method(catalog: dict[str, Any], stream: str) -> str | None:
    """The replication method the catalog declares for ``stream`` (None if it says nothing)."""
    for entry in catalog.get("streams", []):
        if entry.get("tap_stream_id") != stream:
            continue
        for meta in entry.get("metadata", []):
            if meta.get("breadcrumb") == []:
                forced = meta.get("metadata", {}).get("forced-replication-method")
                if forced:
                    return str(forced)
        method = entry.get("replication_method")
        return str(method) if method else None
    return None


def reads_whole(catalog_file: Path, stream: str) -> bool:
    """True when the catalog the tap ran with declares ``stream`` ``FULL_TABLE``."""
    try:
        catalog = json.loads(catalog_file.read_text())
    except (OSError, ValueError):
        return False
    return replication_method(catalog, stream) == FULL_TABLE


def _absent(dest: str, stage: str, key: tuple[str, ...]) -> str:
    match = " AND ".join(f"s.{_q(k)} = d.{_q(k)}" for k in key)
    return f"NOT EXISTS (SELECT 1 FROM {stage} s WHERE {match})"


def apply(
    con: duckdb.DuckDBPyConnection,
    dest: str,
    stage: str,
    key: tuple[str, ...],
    mode: str,
    now: datetime | None = None,
) -> int:
    """Delete or mark destination rows absent from the staged complete read; return how many.

    Runs inside the caller's transaction, after the staged rows were merged into ``dest``.

    Args:
        con: Connection with the apply transaction open.
        dest: Fully qualified destination table.
        stage: Fully qualified staging table holding the complete read.
        key: Primary-key columns (lower-case).
        mode: ``hard`` or ``mark``.
        now: The time recorded by ``mark`` (default: now, UTC).
    """
    absent = _absent(dest, stage, key)
    if mode == "hard":
        row = con.execute(f"DELETE FROM {dest} d WHERE {absent}").fetchone()
        return int(row[0]) if row else 0
    if mode != "mark":
        raise ValueError(f"unknown deletions mode {mode!r}")
    con.execute(f"ALTER TABLE {dest} ADD COLUMN IF NOT EXISTS {_q(DELETED_AT)} TIMESTAMP")
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    row = con.execute(
        f"UPDATE {dest} d SET {_q(DELETED_AT)} = ? WHERE {_q(DELETED_AT)} IS NULL AND {absent}",
        [stamp],
    ).fetchone()
    return int(row[0]) if row else 0
