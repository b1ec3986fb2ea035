"""The target's DuckDB connection: never fetches an extension, creates the file's folder.

target-duckdb 0.8.0 opens the file with a bare ``duckdb.connect(path)``. Given a file DuckDB does
not recognise (a SQLite file, for one), DuckDB then tries to download and load an extension from
the network. ``OfflineDuckDB`` stands in for the ``duckdb`` module inside ``target_duckdb``: its
``connect`` turns extension auto-install and auto-load off, creates the parent folder of the
file (a fresh Meltano project has no ``output/`` folder), and reports a file that is not a DuckDB
database in one line.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import duckdb

OFFLINE_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
_MARKER = "_omniload_offline"


def connect(database: Any = ":memory:", *args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` with extension auto-install/auto-load off and the folder created."""
    config = {**(kwargs.pop("config", None) or {}), **OFFLINE_CONFIG}
    path = str(database)
    if path and path != ":memory:" and "://" not in path and not path.startswith("md:"):
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
    try:
        return duckdb.connect(database, *args, config=config, **kwargs)
    except duckdb.IOException as exc:
        text = str(exc)
        if "not a valid DuckDB database" in text or "xtension" in text:
            print(f"target-duckdb-guarded: {path} is not a DuckDB database file", file=sys.stderr)
            raise SystemExit(1) from None
        raise


class OfflineDuckDB:
    """The ``duckdb`` module with :func:`connect` replaced."""

    def __getattr__(self, name: str) -> Any:
        return getattr(duckdb, name)

    connect = staticmethod(connect)


def install(target_module: Any) -> bool:
    """Make ``target_module`` (``target_duckdb``) open DuckDB through :func:`connect`."""
    if getattr(target_module, _MARKER, False):
        return False
    target_module.duckdb = OfflineDuckDB()
    setattr(target_module, _MARKER, True)
    return True
