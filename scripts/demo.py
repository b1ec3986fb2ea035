"""Demo: start the bundled PostHog simulator, load it with omniload, print what landed in DuckDB.

Usage: python scripts/demo.py [--events 100000] [--db output/demo.duckdb]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from omniload.tables import tables
from posthog_sim import SimConfig, Simulator
from posthog_sim.truth import KEYS

BIN = Path(sys.executable).parent
#: (omniload table, tap stream) for every table omniload loads.
TABLES = [(name, spec.stream) for name, spec in tables().items()]


def _key(stream: str) -> tuple[str, ...]:
    """Columns that identify a row within one project (the ground truth's key)."""
    return KEYS.get(stream, ("id",))


def main() -> int:
    """Run the demo; exit 0 when every table matches the simulator's ground truth."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--db", default="output/demo.duckdb")
    args = parser.parse_args()
    db = Path(args.db)
    db.unlink(missing_ok=True)
    sim = Simulator(SimConfig(seed=1, n_events=args.events)).start()
    print(f"PostHog simulator on {sim.base_url} (project {sim.project_id}), {args.events} events")
    env = {**os.environ, "POSTHOG_PERSONAL_API_KEY": sim.api_key}
    source = f"posthog://?project_id={sim.project_id}&base_url={sim.base_url}"
    truth = {stream: [str(i) for i in sim.truth.ids(stream)] for _table, stream in TABLES}
    ok = True
    try:
        for table, _stream in TABLES:
            dest = "posthog." + table.replace(":", "_")
            started = time.monotonic()
            result = subprocess.run(
                [
                    str(BIN / "omniload"), "ingest", "--source-uri", source,
                    "--source-table", table, "--dest-uri", f"duckdb:///{db}",
                    "--dest-table", dest, "--yes", "--progress", "log",
                ],
                env=env, capture_output=True, text=True,
            )
            if result.returncode != 0:
                print(f"  {table}: FAILED: {result.stderr.strip().splitlines()[-1]}")
                ok = False
                continue
            took = time.monotonic() - started
            print(f"  omniload ingest {table:<30} -> {dest:<40} {took:5.1f} s")
    finally:
        sim.stop()

    print(f"\nWhat landed in {db}:")
    print(f"  {'table':<42} {'rows':>8} {'distinct keys':>13}  matches ground truth")
    con = duckdb.connect(str(db), read_only=True)
    try:
        for table, stream in TABLES:
            dest = "posthog." + table.replace(":", "_")
            key = _key(stream)
            rows = con.execute(f"SELECT {', '.join(key)} FROM {dest}").fetchall()
            ids = [str(r[0]) if len(key) == 1 else str(tuple(r)) for r in rows]
            want = truth[stream]
            same = len(ids) == len(want) and set(ids) == set(want)
            ok = ok and same
            print(f"  {dest:<42} {len(ids):>8} {len(set(ids)):>13}  {'yes' if same else 'NO'}")
        print("\nSample events:")
        rows = con.execute(
            "SELECT timestamp, event, distinct_id, "
            "json_extract_string(properties, '$.\"$browser\"') FROM posthog.events "
            "ORDER BY timestamp DESC LIMIT 5"
        ).fetchall()
        for row in rows:
            print("  " + " | ".join(str(v) for v in row))
    finally:
        con.close()
    print("\nAll tables match the simulator's ground truth." if ok else "\nMISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
