"""Reliability: heavy faults on every table, SIGKILL and resume, timeouts, and no key anywhere.

Scenarios live in ``tests/test_reliability_scenarios.py``; ``scripts/reliability.py`` runs the
same ones at more kill points and writes ``docs/reliability.md``.
"""

from __future__ import annotations

import random
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from omniload.tables import TABLES
from posthog_sim import SimConfig, Simulator
from posthog_sim.faults import PROFILE_KINDS
from tests import test_reliability_scenarios as sc
from tests.test_reliability_kit import Artefacts, Figures, Workspace, scan

pytestmark = pytest.mark.slow

HEAVY = SimConfig(seed=31, fault_profile="heavy", fault_seed=7, n_events=3000, n_persons=1800)
KILLS = SimConfig(seed=33, n_events=20_000, query_row_cap=1000)  # events over many requests
# A 1,000-row server cap (old PostHog) spreads the events load over several requests.
OVERLAPS = SimConfig(seed=36, n_events=8000, n_persons=3000, query_row_cap=1000)
#: Where the first run is when the second starts: before its tap, mid-load, at apply.
OVERLAP_MOMENTS = [
    sc.Moment("spawn"),
    sc.Moment("start"),
    sc.Moment("load"),
    sc.Moment("request", 3),
    sc.Moment("progress", 2),
    sc.Moment("apply"),
]
SIGNAL_MOMENTS = [
    (signal.SIGTERM, sc.Moment("start")),
    (signal.SIGTERM, sc.Moment("load")),
    (signal.SIGTERM, sc.Moment("progress", 1)),
    (signal.SIGTERM, sc.Moment("apply")),
    (signal.SIGINT, sc.Moment("request", 3)),
    (signal.SIGINT, sc.Moment("apply")),
]
KILL_POINTS = [
    sc.KillPoint("start"),
    sc.KillPoint("progress", 1),
    sc.KillPoint("request", 4),
    sc.KillPoint("loaded"),
    sc.KillPoint("delay", round(random.Random(5).uniform(1.5, 4.0), 2)),
]


class Registry:
    """Keys and artefacts of every scenario in this module, for the final secret scan."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.workspaces: dict[str, Workspace] = {}

    def workspace(self, name: str, root: Path, sim: Simulator) -> Workspace:
        ws = Workspace(root, sim)
        self.keys.add(sim.api_key)
        self.workspaces[name] = ws
        return ws


REGISTRY = Registry()
HEAVY_FIGURES: dict[str, Figures] = {}


def _ok(fig: Figures) -> None:
    detail = "\n".join(f"--- {r.label} (exit {r.returncode})\n{r.stderr[-3000:]}" for r in fig.runs)
    assert fig.ok, f"{fig}\n{detail}"
    assert (fig.lost, fig.duplicates) == (0, 0)


@pytest.fixture(scope="module")
def heavy_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with Simulator(HEAVY) as sim:
        yield REGISTRY.workspace("heavy", tmp_path_factory.mktemp("heavy"), sim)


@pytest.fixture(scope="module")
def kill_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with Simulator(KILLS) as sim:
        yield REGISTRY.workspace("kills", tmp_path_factory.mktemp("kills"), sim)


@pytest.fixture(scope="module")
def overlap_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with Simulator(OVERLAPS) as sim:
        yield REGISTRY.workspace("overlaps", tmp_path_factory.mktemp("overlaps"), sim)


@pytest.fixture(scope="module")
def reference(overlap_ws: Workspace) -> sc.Reference:
    return sc.Reference(overlap_ws)


@pytest.mark.parametrize("moment", OVERLAP_MOMENTS, ids=lambda m: f"{m.kind}-{m.value:g}")
def test_overlapping_runs_load_exactly_once(
    overlap_ws: Workspace, reference: sc.Reference, moment: sc.Moment
) -> None:
    """A second events run started while the first is at ``moment``: it waits for the lock;
    ids exact, whole rows and bookmark equal to one uninterrupted load's, nothing left."""
    fig = sc.overlap(overlap_ws, reference, moment, name=f"overlap_{moment.kind}")
    _ok(fig)
    if moment.kind in ("start", "load", "request", "progress"):  # the first holds the lock
        assert fig.note == "the second run waited for the first", fig.note


@pytest.mark.parametrize("moment", [sc.Moment("start"), sc.Moment("load"), sc.Moment("apply")],
                         ids=lambda m: m.kind)  # fmt: skip
def test_overlapping_full_refresh_runs(
    overlap_ws: Workspace, reference: sc.Reference, moment: sc.Moment
) -> None:
    """The same with --full-refresh on persons (the case that once ended with 0 rows)."""
    fig = sc.overlap(overlap_ws, reference, moment, "persons", ("--full-refresh",),
                     name=f"overlap_fr_{moment.kind}")  # fmt: skip
    _ok(fig)
    assert fig.expected == len(overlap_ws.sim.truth.ids("persons")) > 0


def test_second_run_with_lock_timeout_0_fails_at_once(overlap_ws: Workspace) -> None:
    """--lock-timeout 0: one line naming the table and the file, exit 1; the first is exact."""
    ws = overlap_ws
    db = ws.db("lock_timeout_0")
    mark = ws.mark()
    first = ws.spawn_omniload("events", db, key_in_uri=False)
    assert sc.wait_moment(first, sc.Moment("load"), lambda: ws.mark() - mark)
    second = ws.omniload("events", db, "--lock-timeout", "0", key_in_uri=False)
    done = first.finish()
    assert done.returncode == 0, done.stderr[-2000:]
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "main.events" in lines[0]
    assert str(db) in lines[0]
    assert "--lock-timeout" in lines[0]
    assert f"omniload pid {first.proc.pid}" in lines[0]
    assert [m["type"] for m in second.messages] == ["error"]  # no start: nothing was read
    assert sorted(sc.dest_ids(db, "main.events")) == sorted(map(str, ws.sim.truth.ids("events")))


@pytest.mark.parametrize(("sig", "moment"), SIGNAL_MOMENTS,
                         ids=lambda v: v.name if isinstance(v, signal.Signals)
                         else f"{v.kind}-{v.value:g}")  # fmt: skip
def test_signal_leaves_destination_as_it_was(
    overlap_ws: Workspace, sig: signal.Signals, moment: sc.Moment
) -> None:
    """SIGTERM/SIGINT: exit 143/130, tap and target stopped, destination unchanged, rerun exact."""
    fig = sc.interrupt(overlap_ws, moment, sig, f"signal_{sig.name}_{moment.kind}")
    _ok(fig)
    if moment.kind != "apply":  # at apply the commit may already have begun (then exit 0)
        assert fig.runs[1].returncode == 128 + sig.value, fig.note


@pytest.mark.parametrize("table", sorted(TABLES))
def test_heavy_faults_every_table_exact(heavy_ws: Workspace, table: str) -> None:
    """omniload under the heavy profile plus one scripted fault kind per table: exact ids."""
    fig = sc.heavy_table(heavy_ws, table)
    HEAVY_FIGURES[table] = fig
    _ok(fig)
    assert fig.faults[sc.SCRIPTED[table][0].split(":")[0]] >= len(sc.SCRIPTED[table])


def test_heavy_faults_cover_every_kind(tmp_path: Path) -> None:
    """Every fault kind is served in one run (each table's scripted kind on its path, plus the
    profile's own), and the tap still reads every stream exactly."""
    with Simulator(SimConfig(seed=37, n_events=3000, fault_profile="heavy", fault_seed=9)) as sim:
        ws = REGISTRY.workspace("cover", tmp_path, sim)
        for table, kinds in sc.SCRIPTED.items():
            sim.faults.script(sc.fault_path(table), kinds)
        fig = sc.heavy_tap_all_streams(ws, page_size=100)
        injected = sim.faults.injected
    _ok(fig)
    assert set(PROFILE_KINDS) <= set(injected)
    scripted = sum(len(kinds) for kinds in sc.SCRIPTED.values())
    assert sum(injected.values()) > scripted


def test_heavy_faults_tap_small_pages(tmp_path: Path) -> None:
    """Every stream with 20-row pages: many requests, many profile faults, exact and no dups."""
    with Simulator(SimConfig(seed=32, n_events=8000, fault_profile="heavy", fault_seed=8)) as sim:
        ws = REGISTRY.workspace("heavy-tap", tmp_path, sim)
        fig = sc.heavy_tap_all_streams(ws)
    _ok(fig)
    assert sum(fig.faults.values()) >= 5
    assert fig.retries >= sum(n for kind, n in fig.faults.items() if kind != "slow")


@pytest.mark.parametrize("point", KILL_POINTS, ids=lambda p: f"{p.kind}-{p.value:g}")
def test_sigkill_omniload_then_rerun_is_exact(kill_ws: Workspace, point: sc.KillPoint) -> None:
    """SIGKILL omniload mid-load, rerun at once: exact ids, no staging left, no orphan."""
    fig = sc.kill_and_resume(kill_ws, point, f"kill_{point.kind}_{point.value * 100:.0f}")
    _ok(fig)
    assert fig.runs[-1].returncode == 0
    if point.kind in ("start", "progress", "request"):  # these always land mid-load
        assert fig.runs[0].returncode == -9, fig.note


@pytest.mark.parametrize("victim", ["tap", "target"])
def test_sigkill_one_child_then_rerun_is_exact(kill_ws: Workspace, victim: str) -> None:
    """SIGKILL only the tap (or only the target): omniload fails cleanly, the rerun is exact."""
    fig = sc.kill_and_resume(kill_ws, sc.KillPoint("request", 3), f"kill_{victim}", victim)
    _ok(fig)
    killed, _ = fig.runs
    assert killed.returncode == 1
    assert "killed by signal 9" in killed.stderr.splitlines()[-1]


def test_tap_sigkilled_resumes_from_its_checkpoint(kill_ws: Workspace) -> None:
    """Three SIGKILLed tap runs with 1,000-row pages, each resumed from the last STATE."""
    fig = sc.tap_kill_chain(kill_ws, [2500, 6500, 4000])
    _ok(fig)
    assert fig.note.startswith("3 kills")


def test_read_timeout_is_retried(tmp_path: Path) -> None:
    """request_timeout 2 s, responses of 3 s on the Query API and persons: retried, exact."""
    with Simulator(SimConfig(seed=34)) as sim:
        fig = sc.read_timeout(REGISTRY.workspace("read-timeout", tmp_path, sim))
    _ok(fig)


def test_query_time_limit_narrows_and_stays_exact(tmp_path: Path) -> None:
    """Two Query API time-limit errors: the window narrows to a quarter twice, ids exact."""
    with Simulator(SimConfig(seed=35)) as sim:
        fig = sc.query_timeout(REGISTRY.workspace("query-timeout", tmp_path, sim))
    _ok(fig)
    widths = [float(w) for w in re.findall(r"([0-9.]+) h", fig.note)]
    assert len(widths) == 3, fig.note
    assert widths[1] == pytest.approx(widths[0] / 4)
    assert widths[2] == pytest.approx(widths[1] / 4)


def test_scan_finds_a_planted_key(tmp_path: Path) -> None:
    """The scan itself works: a key in a text, a file and a DuckDB row is reported."""
    key = "phx_planted0123456789"
    db = tmp_path / "planted.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute('CREATE TABLE t AS SELECT 1 AS id, \'{"k": "' + key + "\"}'::JSON AS j")
    (tmp_path / "log.txt").write_text(f"Authorization: Bearer {key}\n")
    report = scan(Artefacts({"out": f"x{key}y"}, [tmp_path]), [key])
    assert len(report.hits) >= 3
    assert any("planted.duckdb" in hit and '"t"' in hit for hit in report.hits)


def test_key_appears_nowhere(tmp_path: Path) -> None:
    """Outputs, temp dirs, state, DuckDB files (+ .wal) and request URLs: of a run of its own
    (key in the URI, in the environment, SIGKILLed and rerun, signalled, failing) and of every
    scenario above that ran in this session."""
    with Simulator(SimConfig(seed=38, n_events=4000)) as sim:
        ws = REGISTRY.workspace("key-scan", tmp_path, sim)
        ws.omniload("persons", ws.db("scan_uri"), "--debug", key_in_uri=True)
        sc.kill_and_resume(ws, sc.KillPoint("progress", 1), "scan_kill")
        sc.interrupt(ws, sc.Moment("load"), signal.SIGTERM, "scan_term")
        failed = ws.omniload("events", ws.db("scan_fail"), "--debug", "--primary-key", "event",
                             "--incremental-strategy", "merge", key_in_uri=True)  # fmt: skip
        ws.requests_since(0)
    assert failed.returncode == 1
    artefacts = Artefacts()
    for each in REGISTRY.workspaces.values():
        artefacts.merge(each.artefacts)
    report = scan(artefacts, REGISTRY.keys)
    assert report.hits == []
    assert min(report.texts, report.files, report.db_rows, report.requests) > 0
