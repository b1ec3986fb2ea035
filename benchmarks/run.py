"""``python -m benchmarks.run``: seed a simulator, measure the four commands, write results.

For each round: the raw client (plain ``requests``, then msgspec for reference), ``tap-posthog``
alone (events, stdout to /dev/null), ``omniload ingest`` into a fresh DuckDB file, and the same
``omniload ingest`` again with no new data. Results: ``benchmarks/results.md`` and
``results.json`` for 200,000 events, ``results-<N>.md`` / ``.json`` for other sizes.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path
from statistics import median_low
from typing import Any

from benchmarks import persons, phases, report, shapes
from benchmarks.phases import PhaseResult
from benchmarks.sections import keep_sections
from benchmarks.sim import SimProcess

HERE = Path(__file__).resolve().parent
DEFAULT_EVENTS = 200_000
SHAPES_JSON = HERE / "results-shapes.json"


def output_paths(events: int) -> tuple[Path, Path]:
    """``results.md``/``.json`` for the default size, ``results-<N>.*`` otherwise."""
    stem = "results" if events == DEFAULT_EVENTS else f"results-{events}"
    return HERE / f"{stem}.md", HERE / f"{stem}.json"


def _round(sim: SimProcess, events: int, page_size: int, tmp: Path) -> list[PhaseResult]:
    db = tmp / "bench.duckdb"
    for path in tmp.glob("bench.duckdb*"):
        path.unlink()
    results = []
    for step in (
        lambda: phases.raw_client(sim, events, page_size, tmp),
        lambda: phases.raw_client(sim, events, page_size, tmp, decoder="msgspec"),
        lambda: phases.tap_alone(sim, events, page_size, tmp),
        lambda: phases.omniload(sim, events, db, report.OMNI),
        lambda: phases.omniload(sim, None, db, report.INCR),
    ):
        result = step()
        if result.name != report.INCR:
            phases.check_complete(result, events)
        print(f"  {result.name}: {result.wall_s:.2f} s, {result.rows:,} rows, "
              f"{result.requests} requests", file=sys.stderr, flush=True)  # fmt: skip
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the results files."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--page-size", type=int, default=50_000, help="events_page_size")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--shape",
        action="append",
        choices=[*shapes.SHAPES, "all"],
        help="instead: one tap-posthog full load per event shape (repeatable; 'all')",
    )
    parser.add_argument(
        "--persons",
        type=int,
        default=None,
        help="benchmark persons instead (this size and 100,000): see benchmarks.persons",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the results files from their JSON (e.g. after a new 200,000-event run)",
    )
    args = parser.parse_args(argv)
    if args.persons is not None:
        return persons.main(["--persons", str(args.persons), "--seed", str(args.seed)])
    md_path, json_path = output_paths(args.events)
    if args.report_only:
        result = json.loads(json_path.read_text())
        result["checks"] = report.checks(result["summary"], _baseline(args.events))
        _write(result, md_path, json_path)
        return 0
    if args.shape:
        return _run_shapes(args, argv)
    if args.page_size != 50_000:
        print("note: omniload always reads pages of 50,000 rows", file=sys.stderr)
    given = sys.argv[1:] if argv is None else argv
    command = f"python -m benchmarks.run {shlex.join(given)}".strip()
    info = {"machine": report.machine(), "code": report.code_version(), "date": report.now()}
    runs: dict[str, list[dict[str, Any]]] = {}
    print(f"seeding the simulator with {args.events:,} events", file=sys.stderr, flush=True)
    with SimProcess(args.events, args.seed) as sim, tempfile.TemporaryDirectory() as tmp:
        print("warm-up (not measured): one raw pass", file=sys.stderr, flush=True)
        phases.raw_client(sim, args.events, args.page_size, Path(tmp), decoder="msgspec")
        for i in range(args.repeat):
            print(f"round {i + 1} of {args.repeat}", file=sys.stderr, flush=True)
            for result in _round(sim, args.events, args.page_size, Path(tmp)):
                runs.setdefault(result.name, []).append(result.to_dict())
    summary = {name: _median_run(results) for name, results in runs.items()}
    result = {
        "command": command,
        "events": args.events,
        "page_size": args.page_size,
        "repeat": args.repeat,
        **info,
        "summary": summary,
        "checks": report.checks(summary, _baseline(args.events)),
        "runs": runs,
    }
    _write(result, md_path, json_path)
    return 0


def _run_shapes(args: argparse.Namespace, argv: list[str] | None) -> int:
    """``--shape``: results-shapes.json, and results.md rendered again with its section."""
    given = sys.argv[1:] if argv is None else argv
    chosen = list(shapes.SHAPES) if "all" in args.shape else list(dict.fromkeys(args.shape))
    result = {
        "command": f"python -m benchmarks.run {shlex.join(given)}".strip(),
        "events": args.events,
        "page_size": args.page_size,
        "machine": report.machine(),
        "code": report.code_version(),
        "date": report.now(),
        "shapes": shapes.run(chosen, args.events, args.page_size, args.seed),
    }
    SHAPES_JSON.write_text(json.dumps(result, indent=2) + "\n")
    md_path, json_path = output_paths(DEFAULT_EVENTS)
    if json_path.exists():  # results.md again, the other benchmarks' sections kept
        _write(json.loads(json_path.read_text()), md_path, json_path)
    print("\n".join(shapes.markdown(result)))
    return 0


def _baseline(events: int) -> dict[str, Any] | None:
    """The 200,000-event results, to compare another size's peak RSS with."""
    path = output_paths(DEFAULT_EVENTS)[1]
    if events == DEFAULT_EVENTS or not path.exists():
        return None
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _write(result: dict[str, Any], md_path: Path, json_path: Path) -> None:
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    # The sections other benchmarks wrote (persons, load speed) stay.
    md_path.write_text(keep_sections(md_path, report.markdown(result)))
    print(md_path.read_text())


def _median_run(results: list[dict[str, Any]]) -> dict[str, Any]:
    wall = median_low(r["wall_s"] for r in results)
    return next(r for r in results if r["wall_s"] == wall)


if __name__ == "__main__":
    sys.exit(main())
