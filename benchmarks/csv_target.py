"""``target-duckdb-guarded`` as it loaded before the JSON load: every record a dict, lossless CSV.

The benchmark runs it next to the current target on the same tap output, so the two loads are
compared on one machine in one session. Not a product entry point.
"""

from __future__ import annotations

from target_duckdb_guard.__main__ import _wrap_persist_lines
from target_duckdb_guard.exact import apply_exact
from target_duckdb_guard.patch import PATCHED_VERSION, apply_patch, installed_version
from target_duckdb_guard.speed import apply_speedups


def main() -> None:
    """Run target-duckdb with the row, value and record-path fixes, without the JSON load."""
    import target_duckdb
    from target_duckdb.db_sync import DbSync

    if installed_version() != PATCHED_VERSION:
        raise SystemExit(f"the CSV load is specific to target-duckdb {PATCHED_VERSION}")
    apply_patch()
    apply_exact(DbSync)
    apply_speedups(target_duckdb, DbSync)
    target_duckdb.persist_lines = _wrap_persist_lines(target_duckdb.persist_lines)
    target_duckdb.main()


if __name__ == "__main__":
    main()
