"""Identity through omniload: a person merge in PostHog shows in person_distinct_ids next run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

OMNILOAD = str(Path(sys.executable).with_name("omniload"))


def _ingest(sim, table: str, db: Path) -> None:
    uri = f"posthog://?project_id={sim.project_id}&base_url={sim.base_url}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNILOAD_", "POSTHOG_"))}
    env["POSTHOG_PERSONAL_API_KEY"] = sim.api_key
    proc = subprocess.run(
        [OMNILOAD, "ingest", "--source-uri", uri, "--source-table", table,
         "--dest-uri", f"duckdb:///{db}", "--dest-table", f"posthog.{table}",
         "--progress", "json", "--yes"],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=170,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sim.api_key not in proc.stdout + proc.stderr


def _distinct_ids(db: Path) -> list[tuple[str, str, int]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT distinct_id, person_id, project_id FROM posthog.person_distinct_ids"
        ).fetchall()
    return sorted(rows)


def _truth(sim) -> list[tuple[str, str, int]]:
    return sorted(
        (r["distinct_id"], r["person_id"], r["project_id"])
        for r in sim.truth.records("person_distinct_ids")
    )


def test_merge_shows_in_person_distinct_ids_and_persons_after_the_next_run(sim, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    _ingest(sim, "person_distinct_ids", db)
    _ingest(sim, "persons", db)
    assert _distinct_ids(db) == _truth(sim)
    persons = sim.truth.records("persons")
    keep, gone = persons[2], persons[9]
    sim.data.merge_persons(keep["id"], gone["id"])
    _ingest(sim, "person_distinct_ids", db)
    _ingest(sim, "persons", db)
    rows = _distinct_ids(db)
    assert rows == _truth(sim)
    mapping = {d: p for d, p, _ in rows}
    for distinct_id in keep["distinct_ids"] + gone["distinct_ids"]:
        assert mapping[distinct_id] == keep["id"]
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute(
            "SELECT distinct_ids FROM posthog.persons WHERE id = ?", [keep["id"]]
        ).fetchone()
        # the current person of every event: one join away
        joined = con.execute(
            "SELECT p.id FROM posthog.person_distinct_ids d "
            "JOIN posthog.persons p ON p.id = d.person_id WHERE d.distinct_id = ?",
            [gone["distinct_ids"][0]],
        ).fetchall()
    assert stored is not None
    merged = next(p for p in sim.truth.records("persons") if p["id"] == keep["id"])
    assert json.loads(stored[0]) == merged["distinct_ids"]
    assert joined == [(keep["id"],)]
