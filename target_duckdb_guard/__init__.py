"""`target-duckdb-guarded`: target-duckdb with the 0.8.0 row-drop fix applied at run time."""

from target_duckdb_guard.patch import apply_patch, force_exact_defaults, needs_patch

__all__ = ["apply_patch", "force_exact_defaults", "needs_patch"]
