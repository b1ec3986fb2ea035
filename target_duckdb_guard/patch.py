"""Run-time fixes for target-duckdb 0.8.0 defects (see docs, toolchain.md).

Defect 1: ``DbSync.load_rows`` runs ``COPY tmp FROM 'file.csv' WITH (new_line ...)`` on a
headerless CSV without ``HEADER false``; DuckDB's sniffer then takes the first row of each batch
as a header and drops it. The patch wraps the connection used by ``load_rows`` so that every COPY
statement without a HEADER option gets ``HEADER false``.

Defect 3: ``data_flattening_max_level > 0`` turns free-form objects into NULL, so it is forced to 0.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from importlib import metadata
from typing import Any

PATCHED_VERSION = "0.8.0"
_PATCH_MARKER = "_omniload_header_patch"
_COPY_RE = re.compile(r"^\s*COPY\s.+\sFROM\s", re.IGNORECASE | re.DOTALL)
_WITH_RE = re.compile(r"\bWITH\s*\(", re.IGNORECASE)
_HEADER_RE = re.compile(r"\bHEADER\b", re.IGNORECASE)

FORCED_SETTINGS: dict[str, Any] = {"data_flattening_max_level": 0}


def add_header_false(sql: str) -> str:
    """Return ``sql`` with ``HEADER false`` added when it is a COPY ... FROM without HEADER.

    Args:
        sql: A SQL statement.

    Returns:
        The statement, unchanged unless it is a COPY FROM lacking a HEADER option.
    """
    if not _COPY_RE.match(sql) or _HEADER_RE.search(sql):
        return sql
    match = _WITH_RE.search(sql)
    if match:
        return f"{sql[: match.end()]}HEADER false, {sql[match.end() :]}"
    return f"{sql.rstrip().rstrip(';')} WITH (HEADER false)"


class HeaderFixConnection:
    """Proxy for a DuckDB connection that fixes COPY statements in ``execute``."""

    def __init__(self, conn: Any) -> None:
        """Wrap ``conn``."""
        self._conn = conn

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        """Execute ``query`` on the wrapped connection, adding ``HEADER false`` to COPY.

        A ``None`` query (0.8.0's ``update_from_temp_table`` for key-only tables) is skipped
        instead of raising ``TypeError``.
        """
        if query is None:
            return self._conn
        if isinstance(query, str):
            query = add_header_false(query)
        return self._conn.execute(query, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        """Delegate everything else to the wrapped connection."""
        return getattr(self._conn, name)


def installed_version() -> str | None:
    """Return the installed target-duckdb distribution version, or None."""
    try:
        return metadata.version("target-duckdb")
    except metadata.PackageNotFoundError:
        return None


def source_sets_header(func: Callable[..., Any]) -> bool:
    """Return True when ``func``'s source already mentions a HEADER option."""
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return False
    return bool(_HEADER_RE.search(source))


def needs_patch(db_sync_cls: Any, version: str | None) -> tuple[bool, str]:
    """Decide whether ``db_sync_cls.load_rows`` needs the HEADER fix.

    Args:
        db_sync_cls: The ``DbSync`` class of target-duckdb.
        version: The installed target-duckdb version.

    Returns:
        ``(patch, reason)``: whether to patch and a short reason for the log line.
    """
    load_rows = db_sync_cls.load_rows
    if getattr(load_rows, _PATCH_MARKER, False):
        return False, "already patched in this process"
    if version != PATCHED_VERSION:
        return False, f"target-duckdb {version} is not {PATCHED_VERSION}"
    if source_sets_header(load_rows):
        return False, f"target-duckdb {version} load_rows already sets HEADER"
    return True, f"target-duckdb {version} load_rows lacks HEADER false"


def apply_patch(db_sync_cls: Any = None, version: str | None = None) -> tuple[bool, str]:
    """Patch ``DbSync.load_rows`` when needed; return ``(applied, reason)``.

    Args:
        db_sync_cls: The class to patch (default: ``target_duckdb.db_sync.DbSync``).
        version: The version to assume (default: the installed distribution's).
    """
    if db_sync_cls is None:
        from target_duckdb.db_sync import DbSync

        db_sync_cls = DbSync
    if version is None:
        version = installed_version()
    patch, reason = needs_patch(db_sync_cls, version)
    if not patch:
        return False, reason
    original = db_sync_cls.load_rows

    def load_rows(self: Any, *args: Any, **kwargs: Any) -> Any:
        real = self.conn
        self.conn = HeaderFixConnection(real)
        try:
            return original(self, *args, **kwargs)
        finally:
            self.conn = real

    load_rows.__doc__ = original.__doc__
    setattr(load_rows, _PATCH_MARKER, True)
    db_sync_cls.load_rows = load_rows
    return True, reason


def force_exact_defaults(config: dict[str, Any]) -> list[str]:
    """Force the settings that keep data exact; return the names that were overridden."""
    overridden = [
        key for key, value in FORCED_SETTINGS.items() if key in config and config[key] != value
    ]
    config.update(FORCED_SETTINGS)
    return overridden
