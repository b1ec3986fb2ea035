"""``python -m benchmarks.load_speed``: CPU of the load into DuckDB, before and after the JSON load.

Seeds a simulator, records the tap's output for ``events`` once (measuring the tap), then, in
each round: target-duckdb-guarded alone on that output with the previous CSV load
(``benchmarks.csv_target``) and with the current JSON load, both with omniload's target
settings, and ``omniload ingest`` of the same events into a fresh file. Figures are CPU seconds
(user + system) per process, the median over the rounds: wall time on a machine shared with
other work measures the neighbours, CPU time mostly the code. Results go to
``benchmarks/load-speed.json`` and the ``load-speed`` section of ``benchmarks/results.md``
(``benchmarks.sections``: the other benchmarks keep it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks import phases, report
from benchmarks.procs import run_measured
from benchmarks.sections import put_section
from benchmarks.sim import SimProcess
from omniload.catalog import catalog_for
from omniload.ingest import TARGET_BATCH_ROWS, TARGET_MEMORY_LIMIT

HERE = Path(__file__).resolve().parent
SECTION = "## Load speed (target side)"
TARGETS = {
    "before (CSV load)": [sys.executable, "-m", "benchmarks.csv_target"],
    "after (JSON load)": [str(phases.BIN / "target-duckdb-guarded")],
}


def target_config(db: Path) -> dict[str, Any]:
    """The settings omniload gives the target (see ``omniload/ingest.py``)."""
    return {
        "path": str(db), "default_target_schema": "stage", "batch_size_rows": TARGET_BATCH_ROWS,
        "data_flattening_max_level": 0, "primary_key_required": False, "hard_delete": False,
        "add_metadata_columns": False, "validate_records": False,
        "settings": {"memory_limit": TARGET_MEMORY_LIMIT},
    }  # fmt: skip


def record_tap(sim: SimProcess, tmp: Path) -> tuple[Path, dict[str, Any]]:
    """Run ``tap-posthog`` for events into a file; return the file and the tap's figures."""
    config = tmp / "tap-config.json"
    config.write_text(json.dumps({"project_id": sim.project_id, "base_url": sim.base_url}))
    catalog = tmp / "catalog.json"
    catalog.write_text(json.dumps(catalog_for("events")))
    out = tmp / "tap-output.jsonl"
    cmd = [str(phases.BIN / "tap-posthog"), "--config", str(config), "--config", "ENV",
           "--catalog", str(catalog)]  # fmt: skip
    with out.open("wb") as stdout, (tmp / "tap.log").open("wb") as stderr:
        env = phases._env(sim, "TAP_POSTHOG_PERSONAL_API_KEY")
        measured = run_measured(cmd, label="tap", env=env, stdout=stdout, stderr=stderr)
    if measured.returncode != 0:
        raise RuntimeError(f"tap-posthog failed with exit code {measured.returncode}")
    return out, {"cpu_s": measured.procs[0].cpu_s, "peak_rss_mb": measured.procs[0].peak_rss_mb}


def run_target(cmd: list[str], tap_output: Path, tmp: Path, events: int) -> dict[str, Any]:
    """One target alone on the recorded tap output, into a fresh DuckDB file."""
    db = tmp / "target.duckdb"
    for path in tmp.glob("target.duckdb*"):
        path.unlink()
    config = tmp / "target.json"
    config.write_text(json.dumps(target_config(db)))
    with tap_output.open("rb") as stdin, (tmp / "target.log").open("wb") as stderr:
        measured = run_measured([*cmd, "--config", str(config)], label="target", stdin=stdin,
                                stderr=stderr)  # fmt: skip
    if measured.returncode != 0:
        raise RuntimeError(f"{cmd} failed with exit code {measured.returncode}")
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT count(*), count(DISTINCT id) FROM stage.events").fetchone()
    if row != (events, events):
        raise RuntimeError(f"{cmd} stored {row} rows instead of {events:,} distinct events")
    proc = measured.procs[0]
    return {"cpu_s": proc.cpu_s, "peak_rss_mb": proc.peak_rss_mb, "wall_s": measured.wall_s}


def main(argv: list[str] | None = None) -> int:
    """Measure, then write ``load-speed.json`` and the section of ``results.md``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_speed", description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    result: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.load_speed", *given]),
        "events": args.events, "repeat": args.repeat, "machine": report.machine(),
        "code": report.code_version(), "date": report.now(),
    }  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {}
    with SimProcess(args.events, args.seed) as sim, tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        tap_output, result["tap"] = record_tap(sim, tmp)
        for i in range(args.repeat):
            print(f"round {i + 1} of {args.repeat}", file=sys.stderr, flush=True)
            for label, cmd in TARGETS.items():
                runs.setdefault(label, []).append(run_target(cmd, tap_output, tmp, args.events))
            for path in tmp.glob("omni.duckdb*"):
                path.unlink()
            omni = phases.omniload(sim, args.events, tmp / "omni.duckdb", report.OMNI)
            phases.check_complete(omni, args.events)
            procs = {p["label"]: p for p in omni.procs}
            runs.setdefault(report.OMNI, []).append(
                {"wall_s": omni.wall_s, "procs": {k: p["cpu_s"] for k, p in procs.items()},
                 "peak_rss_mb": {k: p["peak_rss_mb"] for k, p in procs.items()}}
            )  # fmt: skip
    result["runs"] = runs
    result["summary"] = summarise(runs)
    (HERE / "load-speed.json").write_text(json.dumps(result, indent=2) + "\n")
    put_section(HERE / "results.md", "load-speed", section(result))
    print(section(result))
    return 0


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians: CPU and peak RSS of each target variant, CPU of each omniload process."""
    out: dict[str, Any] = {}
    for label in TARGETS:
        rows = runs[label]
        out[label] = {
            "cpu_s": round(median(r["cpu_s"] for r in rows), 2),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
        }
    omni = runs[report.OMNI]
    names = sorted({name for r in omni for name in r["procs"]})
    out[report.OMNI] = {
        "cpu_s": {n: round(median(r["procs"].get(n, 0.0) for r in omni), 2) for n in names},
        "peak_rss_mb": {n: max(r["peak_rss_mb"].get(n, 0.0) for r in omni) for n in names},
        "wall_s": round(median(r["wall_s"] for r in omni), 2),
    }
    return out


def section(result: dict[str, Any]) -> str:
    """The Markdown section."""
    s, n = result["summary"], result["events"]
    before, after = s["before (CSV load)"], s["after (JSON load)"]
    omni = s[report.OMNI]
    commit = result["code"]["commit"] + (
        " (with changes)" if result["code"]["uncommitted_changes"] else ""
    )
    load = ", ".join(map(str, result["machine"]["load_average_at_start"]))
    change = (after["cpu_s"] - before["cpu_s"]) / before["cpu_s"] * 100
    omni_cpu = ", ".join(f"{k} {v:.2f}" for k, v in omni["cpu_s"].items())
    omni_rss = ", ".join(f"{k} {v:.0f}" for k, v in omni["peak_rss_mb"].items())
    return "\n".join([
        SECTION, "",
        f"`{result['command']}` on {result['date']}, code at commit `{commit}`, "
        f"{n:,} events (default shape), {result['repeat']} rounds; load average at start: {load}.",
        "",
        "CPU seconds (user + system) of each process, median over the rounds. CPU rather than "
        "wall time: the machine is shared, and wall time there measures the neighbours. The "
        "target runs alone on one recorded tap output (omniload's target settings), once with "
        "the previous lossless CSV load (`benchmarks/csv_target.py`) and once with the JSON "
        "load, then `omniload ingest` runs the whole pipeline.",
        "",
        "| process | CPU s | rows per CPU s | peak RSS MB |",
        "|---|---:|---:|---:|",
        f"| tap-posthog (events to a file) | {result['tap']['cpu_s']:.2f} | "
        f"{n / result['tap']['cpu_s']:,.0f} | {result['tap']['peak_rss_mb']:.0f} |",
        f"| target, before (CSV load) | {before['cpu_s']:.2f} | {n / before['cpu_s']:,.0f} | "
        f"{before['peak_rss_mb']:.0f} |",
        f"| target, after (JSON load) | {after['cpu_s']:.2f} | {n / after['cpu_s']:,.0f} | "
        f"{after['peak_rss_mb']:.0f} |",
        "",
        f"Target CPU: {change:+.0f} % with the JSON load. `omniload ingest` (JSON load), CPU s "
        f"per process: {omni_cpu}; peak RSS MB: {omni_rss}; wall {omni['wall_s']:.2f} s.",
        "",
    ])  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
