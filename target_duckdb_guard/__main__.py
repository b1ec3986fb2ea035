"""Entry point: patch target-duckdb (rows, values, speed), force exact defaults, run ``main()``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from target_duckdb_guard import offline
from target_duckdb_guard.exact import apply_exact
from target_duckdb_guard.patch import (
    PATCHED_VERSION,
    apply_patch,
    force_exact_defaults,
    installed_version,
)
from target_duckdb_guard.rawload import LineDecoder, apply_raw_load, raw_records_allowed
from target_duckdb_guard.speed import apply_speedups

_PREFIX = "target-duckdb-guarded"


def _log(message: str) -> None:
    print(f"{_PREFIX}: {message}", file=sys.stderr, flush=True)


def _wrap_persist_lines(
    original: Callable[..., Any], decoder: LineDecoder | None = None
) -> Callable[..., Any]:
    """Wrap ``persist_lines``: forced settings before any load; raw records when allowed."""

    def persist_lines(connection: Any, config: dict[str, Any], lines: Any) -> Any:
        for key in force_exact_defaults(config):
            _log(f"overriding {key} with {config[key]!r} (other values lose data)")
        if decoder is not None:
            decoder.raw_records = raw_records_allowed(config)
        return original(connection, config, lines)

    return persist_lines


def main() -> None:
    """Run target-duckdb with the run-time fixes."""
    import target_duckdb
    from target_duckdb.db_sync import DbSync

    applied, reason = apply_patch()
    _log(f"COPY HEADER fix {'applied' if applied else 'skipped'} ({reason})")
    decoder = None
    if installed_version() == PATCHED_VERSION:
        if apply_exact(DbSync):
            _log("exact load path installed (empty strings, 0, false, NUL and big integers kept)")
        if apply_speedups(target_duckdb, DbSync):
            _log(f"fast record path for target-duckdb {PATCHED_VERSION} installed")
        if apply_raw_load(DbSync):
            decoder = LineDecoder()
            target_duckdb.json.loads = decoder
            _log("JSON load path installed (records kept as sent, loaded with read_ndjson)")
    target_duckdb.persist_lines = _wrap_persist_lines(target_duckdb.persist_lines, decoder)
    offline.install(target_duckdb)  # no extension from the network; the file's folder is made
    target_duckdb.main()


if __name__ == "__main__":
    main()
