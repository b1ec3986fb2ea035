"""Persons at scale: ``tap-posthog`` (persons) and ``omniload ingest`` of ``persons`` and
``person_distinct_ids``, at a small and a large size, to show the cost is linear.

``python -m benchmarks.run --persons 1000000`` (or ``python -m benchmarks.persons``) seeds one
simulator per size (``--compare``, default 100,000, then ``--persons``), measures each command
once per size and writes the ``persons`` section of ``benchmarks/results.md`` (kept apart from
the events sections) and ``benchmarks/results-persons.json``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import duckdb

from benchmarks import report
from benchmarks.phases import BIN, PhaseResult, _env, _measure
from benchmarks.sections import put_section
from benchmarks.sim import SimProcess
from omniload.catalog import catalog_for

HERE = Path(__file__).resolve().parent
RSS_LIMIT_MB = 300


def tap_persons(sim: SimProcess, tmp: Path) -> PhaseResult:
    """``tap-posthog`` with only ``persons`` selected, stdout to /dev/null."""
    config = tmp / "tap-config.json"
    config.write_text(json.dumps({"project_id": sim.project_id, "base_url": sim.base_url}))
    catalog = tmp / "catalog-persons.json"
    catalog.write_text(json.dumps(catalog_for("persons")))
    cmd = [str(BIN / "tap-posthog"), "--config", str(config), "--config", "ENV",
           "--catalog", str(catalog)]  # fmt: skip
    with (tmp / "tap.log").open("wb") as err:
        return _measure(sim, "tap-posthog persons", cmd,
                        _env(sim, "TAP_POSTHOG_PERSONAL_API_KEY"), None, stderr=err)  # fmt: skip


def omniload_table(sim: SimProcess, table: str, db: Path) -> PhaseResult:
    """``omniload ingest`` of one persons table into a fresh DuckDB file."""
    cmd = [
        str(BIN / "omniload"), "ingest",
        "--source-uri", f"posthog://?project_id={sim.project_id}&base_url={sim.base_url}",
        "--source-table", table, "--dest-uri", f"duckdb:///{db}",
        "--dest-table", f"posthog.{table}", "--yes", "--progress", "log",
    ]  # fmt: skip
    with db.with_suffix(f".{table}.log").open("wb") as err:
        result = _measure(sim, f"omniload ingest {table}", cmd,
                          _env(sim, "POSTHOG_PERSONAL_API_KEY"), None, stderr=err)  # fmt: skip
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(f"SELECT count(*) FROM posthog.{table}").fetchone()
    assert row is not None
    result.extra = {"table_rows": row[0]}
    return result


def _server_count(sim: SimProcess, table: str) -> int:
    """Rows of a HogQL table as the simulator's ClickHouse counts them (the tests check the
    rows themselves against the ground truth; here the load must be complete)."""
    body = json.dumps(
        {"query": {"kind": "HogQLQuery", "query": f"SELECT count() FROM {table}"}}
    ).encode()
    request = urllib.request.Request(
        f"{sim.base_url}/api/projects/{sim.project_id}/query/",
        data=body,
        headers={"Authorization": f"Bearer {sim.api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        return int(json.loads(response.read())["results"][0][0])


def measure_size(persons: int, seed: int) -> dict[str, Any]:
    """Every command once against a simulator holding ``persons`` persons."""
    print(f"seeding the simulator with {persons:,} persons", file=sys.stderr, flush=True)
    out: dict[str, Any] = {"persons": persons, "phases": []}
    with SimProcess(10, seed, persons=persons) as sim, tempfile.TemporaryDirectory() as tmp:
        expected = {t: _server_count(sim, t) for t in ("persons", "person_distinct_ids")}
        out["expected_rows"] = expected
        steps = (
            lambda: tap_persons(sim, Path(tmp)),
            lambda: omniload_table(sim, "persons", Path(tmp) / "persons.duckdb"),
            lambda: omniload_table(sim, "person_distinct_ids", Path(tmp) / "pdi.duckdb"),
        )
        for step in steps:
            result = step()
            table = result.name.split()[-1]
            stored = result.extra.get("table_rows")
            if stored is not None and stored != expected[table]:
                raise RuntimeError(f"{result.name}: {stored:,} rows, expected {expected[table]:,}")
            print(f"  {result.name}: {result.wall_s:.2f} s, {result.requests} requests",
                  file=sys.stderr, flush=True)  # fmt: skip
            out["phases"].append(result.to_dict())
    return out


def _peak(phase: dict[str, Any]) -> float:
    return max(p["peak_rss_mb"] for p in phase["procs"])


def markdown(result: dict[str, Any]) -> str:
    """The ``persons`` section of results.md."""
    sizes = result["sizes"]
    info = result["code"]
    lines = [
        "# Benchmark: persons",
        "",
        f"`{result['command']}` on {result['date']}, code at commit `{info['commit']}`"
        + (" (with uncommitted changes)" if info["uncommitted_changes"] else "")
        + ".",
        "",
        "One run of each command per size, each against its own simulator. Persons are read from "
        "HogQL `persons` and `person_distinct_ids` with keyset pages of 50,000 rows; `persons` "
        "first reads `person_distinct_ids` once to attach each person's distinct ids.",
        "",
        "| persons | command | rows stored | requests | wall s | µs per person | CPU s per process "
        "| peak RSS MB per process |",
        "|---:|---|---:|---:|---:|---:|---|---|",
    ]
    for size in sizes:
        n = size["persons"]
        for phase in size["phases"]:
            procs = ", ".join(f"{p['label']} {p['cpu_s']:.2f}" for p in phase["procs"])
            rss = ", ".join(f"{p['label']} {p['peak_rss_mb']:.0f}" for p in phase["procs"])
            stored = phase["extra"].get("table_rows")
            lines.append(
                f"| {n:,} | {phase['name']} | {'-' if stored is None else f'{stored:,}'} "
                f"| {phase['requests']} | {phase['wall_s']:.2f} "
                f"| {phase['wall_s'] / n * 1e6:.1f} | {procs} | {rss} |"
            )
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for check in result["checks"]:
        met = "yes" if check["met"] else "no"
        lines.append(f"| {check['target']} | {check['measured']} | {met} |")
    return "\n".join(lines) + "\n"


def checks(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Peak RSS under the limit at every size; requests and time linear in persons."""
    out = []
    peak = max(_peak(p) for s in sizes for p in s["phases"])
    out.append({"target": f"peak RSS of every process < {RSS_LIMIT_MB} MB",
                "measured": f"max {peak:.0f} MB", "met": peak < RSS_LIMIT_MB})  # fmt: skip
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        factor = large["persons"] / small["persons"]
        for i, phase in enumerate(large["phases"]):
            base = small["phases"][i]
            req = phase["requests"] / base["requests"]
            per_small = base["wall_s"] / small["persons"]
            per_large = phase["wall_s"] / large["persons"]
            out.append({
                "target": f"{phase['name']}: requests grow at most linearly ({factor:g}x persons)",
                "measured": f"{base['requests']} -> {phase['requests']} ({req:.1f}x)",
                "met": req <= factor * 1.1,
            })  # fmt: skip
            out.append({
                "target": f"{phase['name']}: time per person at {large['persons']:,} "
                f"<= 1.5x that at {small['persons']:,}",
                "measured": f"{per_small * 1e6:.1f} -> {per_large * 1e6:.1f} µs",
                "met": per_large <= 1.5 * per_small,
            })  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure, then write the results."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.persons", description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--compare", type=int, default=100_000, help="the smaller size (0: none)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    sizes = [n for n in (args.compare, args.persons) if n]
    result: dict[str, Any] = {
        "command": f"python -m benchmarks.persons {shlex.join(given)}".strip(),
        "machine": report.machine(),
        "code": report.code_version(),
        "date": report.now(),
        "sizes": [measure_size(n, args.seed) for n in sizes],
    }
    result["checks"] = checks(result["sizes"])
    (HERE / "results-persons.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    put_section(HERE / "results.md", "persons", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
