"""Run every reliability scenario against local simulators and write ``docs/reliability.md``.

Usage (from the checkout, after ``scripts/setup.sh``)::

    .venv/bin/python scripts/reliability.py [--points 20] [--events 30000] [--seed 1]

Scenarios are the ones ``tests/test_reliability.py`` runs (``tests/test_reliability_scenarios.py``),
here with more kill points. Exit code 1 when any scenario lost or duplicated a row, or the key
turned up anywhere.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from omniload.tables import TABLES  # noqa: E402
from posthog_sim import SimConfig, Simulator  # noqa: E402
from tests import test_reliability_scenarios as sc  # noqa: E402
from tests.test_reliability_kit import Artefacts, Figures, ScanReport, Workspace, scan  # noqa: E402

KillPoint = sc.KillPoint
Moment = sc.Moment
OVERLAP_MOMENTS = [Moment("spawn"), Moment("start"), Moment("load"), Moment("request", 3),
                   Moment("request", 5), Moment("progress", 1), Moment("progress", 2),
                   Moment("apply")]  # fmt: skip
FULL_REFRESH_MOMENTS = [Moment("start"), Moment("load"), Moment("apply")]
SIGNAL_MOMENTS = [(signal.SIGTERM, m) for m in (Moment("start"), Moment("load"),
                  Moment("request", 3), Moment("progress", 1), Moment("progress", 2),
                  Moment("apply"))] + [(signal.SIGINT, m) for m in (Moment("load"),
                  Moment("progress", 1), Moment("apply"))]  # fmt: skip


def _log(fig: Figures) -> None:
    status = "ok  " if fig.ok else "FAIL"
    print(f"{status} {fig.seconds:6.1f}s  {fig.scenario}  {fig.note}", file=sys.stderr, flush=True)


class Runner:
    """Starts simulators, runs scenarios, keeps figures and artefacts."""

    def __init__(self, root: Path, seed: int) -> None:
        """Work under ``root``; every simulator seed derives from ``seed``."""
        self.root, self.seed = root, seed
        self.keys: set[str] = set()
        self.artefacts = Artefacts()
        self.sims: list[Simulator] = []
        self.overlaps: list[Figures] = []
        self.signals: list[Figures] = []

    def workspace(self, name: str, **config: object) -> Workspace:
        """A started simulator (seeded) and a workspace for it."""
        seed = self.seed * 100 + len(self.sims)
        sim = Simulator(SimConfig(seed=seed, **config)).start()  # type: ignore[arg-type]
        self.sims.append(sim)
        self.keys.add(sim.api_key)
        ws = Workspace(self.root / name, sim)
        return ws

    def run(self, ws: Workspace, scenario: Callable[..., Figures], *args: object) -> Figures:
        """Run one scenario and log its line."""
        fig = scenario(ws, *args)
        _log(fig)
        return fig

    def close(self, workspaces: list[Workspace]) -> None:
        """Stop the simulators; collect artefacts."""
        for ws in workspaces:
            self.artefacts.merge(ws.artefacts)
        for sim in self.sims:
            sim.close()


def kill_points(n: int, baseline: float, rng: random.Random) -> list[KillPoint]:
    """Five structural points, then seeded random delays over an uninterrupted load's time."""
    fixed = [KillPoint("start"), KillPoint("progress", 1), KillPoint("request", 3),
             KillPoint("request", 5), KillPoint("loaded")]  # fmt: skip
    delays = sorted(round(rng.uniform(0.3, baseline), 2) for _ in range(max(0, n - len(fixed))))
    return fixed[:n] + [KillPoint("delay", d) for d in delays]


def total(name: str, figs: list[Figures]) -> Figures:
    """One summary row for several figures."""
    out = Figures(name, ok=all(f.ok for f in figs))
    for fig in figs:
        out.requests += fig.requests
        out.faults.update(fig.faults)
        out.retries += fig.retries
        out.expected += fig.expected
        out.lost += fig.lost
        out.duplicates += fig.duplicates
        out.seconds = round(out.seconds + fig.seconds, 1)
    killed = sum("killed with" in f.note and "already finished" not in f.note for f in figs)
    out.note = f"{killed} of {len(figs)} loads killed before they finished"
    return out


def overlap_and_signals(
    args: argparse.Namespace, runner: Runner
) -> tuple[Workspace, list[Figures], list[Figures]]:
    """Second runs started at many moments of a first; SIGTERM/SIGINT at many moments."""
    ws = runner.workspace("overlaps", n_events=args.overlap_events, n_persons=3000)
    ref = sc.Reference(ws)
    overlaps = [runner.run(ws, sc.overlap, ref, m, "events", (), f"o_{i}")
                for i, m in enumerate(OVERLAP_MOMENTS)]  # fmt: skip
    overlaps += [runner.run(ws, sc.overlap, ref, m, "persons", ("--full-refresh",), f"ofr_{i}")
                 for i, m in enumerate(FULL_REFRESH_MOMENTS)]  # fmt: skip
    signals = [runner.run(ws, sc.interrupt, m, sig, f"s_{i}")
               for i, (sig, m) in enumerate(SIGNAL_MOMENTS)]  # fmt: skip
    return ws, overlaps, signals


def scenarios(args: argparse.Namespace, runner: Runner) -> tuple[list[Figures], list[Figures]]:
    """Run everything; return the summary rows and the per-kill-point rows."""
    rng = random.Random(f"reliability:{args.seed}")
    rows: list[Figures] = []
    heavy = runner.workspace("heavy", fault_profile="heavy", fault_seed=args.seed,
                             n_events=3000, n_persons=1800)  # fmt: skip
    rows += [runner.run(heavy, sc.heavy_table, table) for table in sorted(TABLES)]
    heavy_tap = runner.workspace(
        "heavy-tap", fault_profile="heavy", fault_seed=args.seed + 1, n_events=8000
    )
    rows.append(runner.run(heavy_tap, sc.heavy_tap_all_streams))
    kills = runner.workspace("kills", n_events=args.events)
    baseline = runner.run(kills, sc.plain_load)
    rows.append(baseline)
    load_seconds = max(2.0, float(baseline.runs[0].messages[-1].get("duration", 10.0)))
    points = kill_points(args.points, load_seconds, rng)
    per_point = [
        runner.run(kills, sc.kill_and_resume, point, f"kill_{i}") for i, point in enumerate(points)
    ]
    rows.append(total(f"SIGKILL omniload at {len(points)} points, rerun", per_point))
    for victim, point in (("tap", KillPoint("request", 3)), ("target", KillPoint("request", 3)),
                          ("target", KillPoint("loaded"))):  # fmt: skip
        rows.append(runner.run(kills, sc.kill_and_resume, point, f"{victim}_{point.kind}", victim))
    chain = [rng.randrange(500, 6000) for _ in range(5)]
    rows.append(runner.run(kills, sc.tap_kill_chain, chain))
    small = runner.workspace("timeouts")
    rows.append(runner.run(small, sc.read_timeout))
    rows.append(runner.run(small, sc.query_timeout))
    overlap_ws, runner.overlaps, runner.signals = overlap_and_signals(args, runner)
    rows.append(summary(f"second run started at {len(runner.overlaps)} moments of a first",
                        runner.overlaps, "waited for the first"))  # fmt: skip
    rows.append(summary(f"SIGTERM/SIGINT at {len(runner.signals)} moments", runner.signals,
                        "destination unchanged"))  # fmt: skip
    runner.close([heavy, heavy_tap, kills, small, overlap_ws])
    return rows, per_point


def summary(name: str, figs: list[Figures], counted: str) -> Figures:
    """One summary row: totals, and how many notes say ``counted``."""
    out = total(name, figs)
    out.note = f"{sum(counted in f.note for f in figs)} of {len(figs)}: {counted}"
    return out


def _faults(fig: Figures) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(fig.faults.items())) or "-"


def _row(fig: Figures) -> str:
    cells = [fig.scenario, str(fig.requests), _faults(fig), str(fig.retries), f"{fig.expected:,}",
             str(fig.lost), str(fig.duplicates), f"{fig.seconds:.1f}", "ok" if fig.ok else "FAIL",
             fig.note]  # fmt: skip
    return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |"


def _machine() -> str:
    model = ""
    with open("/proc/cpuinfo") as fh:
        model = next((line.split(":", 1)[1].strip() for line in fh if "model name" in line), "")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs "
            f"({model or 'unknown model'}), load average at start {load}")  # fmt: skip


HEADER = ["scenario", "requests", "faults injected", "retries", "rows expected", "rows lost",
          "duplicates", "wall s", "result", "notes"]  # fmt: skip


def render(
    args: argparse.Namespace, rows: list[Figures], points: list[Figures], report: ScanReport,
    keys: int, machine: str, started: str, runner: Runner,
) -> str:  # fmt: skip
    """The markdown page."""
    table = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    command = (f".venv/bin/python scripts/reliability.py --points {args.points} "
               f"--events {args.events} --overlap-events {args.overlap_events} "
               f"--seed {args.seed}")  # fmt: skip
    lines = [
        "# Reliability",
        "",
        "Generated by `scripts/reliability.py`; do not edit by hand. Reproduce with:",
        "",
        "```sh",
        command,
        "```",
        "",
        f"Run {started} on {machine}. Every scenario talks HTTP to a local PostHog simulator",
        "(`posthog_sim`) and compares the destination's ids with the simulator's ground truth.",
        "The same scenarios, with fewer kill points, run in CI as `tests/test_reliability.py`.",
        "",
        "## Scenarios",
        "",
        *table,
        *(_row(f) for f in rows),
        "",
        "Columns: *requests* reached the simulator; *faults injected* by kind (the heavy profile",
        "faults ~20 % of requests at random, seeded, and each `heavy faults: <table>` run adds",
        "one scripted kind, a burst of three 429s for persons); *retries* are failed attempts the",
        "client had to repeat (the tap's `retry N in` log lines where the tap runs alone,",
        "otherwise requests that got no usable answer: non-2xx, dropped, or slower than the read",
        "timeout); *rows lost* = truth ids missing from the destination; *duplicates* = ids",
        "stored more than once. Kill runs count the killed run and its rerun together.",
        "",
        '- **heavy faults**: `omniload ingest` per table under `fault_profile="heavy"`: 429 with',
        "  PostHog's body and no Retry-After, 500, HTML 502/504 pages, 503 with Retry-After,",
        "  connections dropped before the headers or mid-body, slow responses, Query API time",
        "  limits. *tap only* runs every stream in one tap with 20-row pages, for more requests.",
        "- **SIGKILL omniload**: an events load killed at the point shown (below), then a plain",
        "  rerun started at once; the tap and target die with omniload (parent-death signal),",
        "  nothing is left locked or staged, and the rerun is exact.",
        "- **kill tap only / target only**: SIGKILL of one child; omniload stops the other, exits",
        "  1 with `... killed by signal 9`, and the rerun is exact.",
        "- **tap SIGKILLed, resumed**: the tap alone with 1,000-row pages, killed after a seeded",
        "  number of records in each run and resumed from the last STATE it emitted; each resume",
        "  re-sends at most one page, which the destination merges on `id`.",
        "- **read timeout**: `request_timeout` 2 s and 3 s responses; **time limit**: the Query",
        "  API's 10-second limit error; the tap narrows the events window and continues.",
        "",
        f"## Kill points ({len(points)}, events load of {args.events:,} rows)",
        "",
        *table,
        *(_row(f) for f in points),
        "",
        f"## Overlapping runs ({len(runner.overlaps)}, events load of {args.overlap_events:,} "
        "rows, persons of 3,000)",
        "",
        "A first `omniload ingest` is started; when it reaches the moment shown (seen from its",
        "JSON messages and the simulator's request log, not from a clock) a second run of the same",
        "table starts (`--lock-timeout 300`). Both must exit 0; the table must hold the ground",
        "truth with every row equal to an uninterrupted load's, the same bookmark, and no staging",
        "schema, run folder or temp file left. *waited* means the second run reported waiting for",
        "the first's lock (`omniload pid N loading main.events since ...`).",
        "",
        *table,
        *(_row(f) for f in runner.overlaps),
        "",
        f"## Signals ({len(runner.signals)}, events load of {args.overlap_events:,} rows)",
        "",
        "The destination first holds the first half of the events (an interval load, no",
        "bookmark); an incremental run is then signalled at the moment shown. It must exit 143",
        "(SIGTERM) or 130 (SIGINT) with the table and `_omniload.state` exactly as before, the",
        "tap and target gone and nothing left behind; or, if the signal came after the commit had",
        "begun, exit 0 with the load complete. A plain rerun must then be exact.",
        "",
        *table,
        *(_row(f) for f in runner.signals),
        "",
        "## Secret hygiene",
        "",
        f"The personal API keys of all {keys} simulators were searched for in",
        f"{report.texts} process outputs (stdout/stderr of every omniload and tap run, and the",
        f"command lines of tap and target), {report.files} files ({report.bytes:,} bytes: every",
        "DuckDB file and `.wal`, omniload's and the tap's temp folders, including those a",
        f"SIGKILL left behind), {report.db_rows:,} DuckDB rows (every table, `_omniload.state`",
        f"included) and {report.requests:,} request URLs, query strings and bodies (the key may",
        "travel only in the Authorization header).",
        "",
        f"**Occurrences found: {len(report.hits)}.**",
        *(f"- {hit}" for hit in report.hits[:50]),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios, write the page, return 0 when everything was exact and clean."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20, help="omniload kill points")
    parser.add_argument("--events", type=int, default=30_000, help="events in the kill load")
    parser.add_argument("--overlap-events", type=int, default=10_000,
                        help="events in the overlapping-runs and signal loads")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    machine = _machine()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    root = Path(tempfile.mkdtemp(prefix="reliability-"))
    wall = time.monotonic()
    runner = Runner(root, args.seed)
    try:
        rows, points = scenarios(args, runner)
        report = scan(runner.artefacts, runner.keys)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    page = render(args, rows, points, report, len(runner.keys), machine, started, runner)
    args.out.write_text(page)
    failed = [f.scenario for f in rows if not f.ok]
    print(f"wrote {args.out} in {time.monotonic() - wall:.0f}s; failed: {failed or 'none'}; "
          f"key occurrences: {len(report.hits)}", file=sys.stderr)  # fmt: skip
    return 1 if failed or report.hits else 0


if __name__ == "__main__":
    sys.exit(main())
