"""Every column of every table equals PostHog's value, through ``omniload ingest``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omniload.tables import TABLES
from tests.rows import assert_table_matches
from tests.test_omniload_e2e import ingest


@pytest.mark.parametrize("table", sorted(TABLES))
def test_omniload_rows_equal_ground_truth(sim: Any, tmp_path: Path, table: str) -> None:
    spec = TABLES[table]
    db = tmp_path / "out.duckdb"
    proc, _ = ingest(sim, table, db)
    assert proc.returncode == 0, proc.stderr
    assert_table_matches(db, f"main.{spec.default_dest_table}", sim, spec.stream)
