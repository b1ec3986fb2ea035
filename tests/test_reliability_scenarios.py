"""Reliability scenarios against a live simulator; each returns its :class:`Figures`.

Shared by ``tests/test_reliability.py`` (few kill points) and ``scripts/reliability.py`` (many);
holds no tests.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from omniload.tables import TABLES
from tests.further import key_of
from tests.test_reliability_kit import (
    Figures,
    Run,
    Watched,
    Workspace,
    children,
    dest_ids,
    stage_schemas,
    wait_gone,
)

#: A scripted fault (or burst) per table on top of the heavy profile: every kind shows up.
SCRIPTED: dict[str, list[str]] = {
    "events": ["query_timeout"],
    "persons": ["429", "429", "429"],
    "person_distinct_ids": ["429", "429"],
    "feature_flags": ["500"],
    "cohorts": ["502"],
    "event_definitions": ["503:1"],
    "property_definitions:event": ["504"],
    "property_definitions:person": ["drop_before_headers"],
    "property_definitions:session": ["drop_mid_body"],
    "annotations": ["slow:1"],
    "projects": ["500"],
    "insights": ["429"],
    "dashboards": ["500"],
    "actions": ["502"],
    "experiments": ["503:1"],
    "surveys": ["504"],
    "group_types": ["drop_before_headers"],
    "groups": ["drop_mid_body"],
    "session_recordings": ["slow:1"],
    "cohort_people": ["500"],
    "sessions": ["500"],
}
#: Request paths that differ from the table's name.
_PATHS = {"group_types": "/groups_types/$", "cohort_people": "/cohorts/[0-9]+/persons/$"}
_CHILD_MARKERS = {"tap": ("tap-posthog", "tap_posthog"),
                  "target": ("target-duckdb-guarded", "target_duckdb_guard")}  # fmt: skip


def fault_path(table: str) -> str:
    """Regex of the request path a table's stream reads."""
    if table == "projects":
        return r"^/api/projects/\d+/$"
    if table in ("events", "persons", "person_distinct_ids", "sessions"):
        return r"/query/$"
    if table in _PATHS:
        return _PATHS[table]
    return "/" + table.split(":")[0] + "/$"


def _elapsed(fig: Figures, started: float) -> None:
    fig.seconds = round(time.monotonic() - started, 1)


def _failed(fig: Figures, run: Run) -> None:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    fig.ok = False
    fig.note = f"{run.label} exit {run.returncode}: {lines[-1] if lines else ''}"[:200]


def heavy_table(ws: Workspace, table: str) -> Figures:
    """One ``omniload ingest`` of ``table`` under the simulator's fault profile plus SCRIPTED."""
    spec = TABLES[table]
    ws.sim.faults.script(fault_path(table), SCRIPTED[table])
    fig = Figures(f"heavy faults: {table}")
    mark, started = ws.mark(), time.monotonic()
    db = ws.db("heavy_" + spec.default_dest_table)
    run = ws.omniload(table, db, key_in_uri=True)
    fig.runs.append(run)
    _elapsed(fig, started)
    fig.count_requests(ws.requests_since(mark))
    if run.returncode:
        _failed(fig, run)
    columns = [k for k in spec.primary_key if k != "project_id"]
    got = dest_ids(db, f"main.{spec.default_dest_table}", columns)
    fig.check(got, ws.sim.truth.ids(spec.stream))
    return fig


@dataclass(frozen=True)
class KillPoint:
    """When to SIGKILL: after the ``start`` message, the n-th ``progress`` message, once the
    simulator served the n-th ``request`` of the load, once the tap has ``loaded`` every row
    (target flush / apply), or after ``delay`` seconds."""

    kind: str
    value: float = 0

    @property
    def label(self) -> str:
        """Human description."""
        return {
            "start": "after the start message",
            "progress": f"after progress message {self.value:g}",
            "request": f"after API request {self.value:g}",
            "loaded": "once every row was read (target flush / apply)",
            "delay": f"after {self.value:.2f} s",
        }[self.kind]


def wait_for(
    watched: Watched, point: KillPoint, expected: int, served: Callable[[], int]
) -> int | None:
    """Block until ``point``; return the rows read by then, or None if omniload ended first.

    ``served`` counts the simulator's requests since the load started.
    """
    deadline = watched.started + (point.value if point.kind == "delay" else 300)
    progress, rows = 0, 0
    while time.monotonic() < deadline or point.kind == "delay":
        if point.kind == "request" and served() >= point.value:
            return rows
        message = watched.next_message(min(deadline, time.monotonic() + 0.01))
        if watched.eof:
            return None
        if message is None:
            if point.kind == "delay" and time.monotonic() >= deadline:
                return rows
            continue
        if message["type"] in ("end", "error"):
            return None
        if message["type"] == "progress":
            progress, rows = progress + 1, message["rows"]
        if (
            (point.kind == "start" and message["type"] == "start")
            or (point.kind == "progress" and progress >= point.value)
            or (point.kind == "loaded" and rows >= expected)
        ):
            return rows
    return None


def _sigkill(ws: Workspace, watched: Watched, victim: str | None = None) -> list[int]:
    """SIGKILL omniload (or its ``tap``/``target`` child); return the pids that must die."""
    kids = children(watched.proc.pid)
    ws.artefacts.texts[f"cmdlines {len(ws.artefacts.texts)}"] = "\n".join(kids.values())
    if victim is None:
        os.kill(watched.proc.pid, signal.SIGKILL)
        return list(kids)
    markers = _CHILD_MARKERS[victim]
    pids = [p for p, cmd in kids.items() if any(m in cmd for m in markers)]
    pids = [p for p in pids if "--discover" not in kids[p]]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


def kill_and_resume(
    ws: Workspace, point: KillPoint, name: str, victim: str | None = None
) -> Figures:
    """Start an events load, SIGKILL omniload (or one child) at ``point``, rerun at once.

    Passes when the rerun ends with exactly the ground truth, no staging schema is left, and
    no process of the killed run survives.
    """
    who = f"{victim} only" if victim else "omniload"
    fig = Figures(f"kill {who} {point.label}")
    expected = len(ws.sim.truth.ids("events"))
    db = ws.db(name)
    mark, started = ws.mark(), time.monotonic()
    watched = ws.spawn_omniload("events", db, "--debug", key_in_uri=False)  # debug: more output
    rows = wait_for(watched, point, expected, lambda: ws.mark() - mark)
    pids = _sigkill(ws, watched, victim) if rows is not None else []
    killed = watched.finish()
    rerun = ws.omniload("events", db, key_in_uri=False)
    fig.runs += [killed, rerun]
    survivors = wait_gone(pids)
    _elapsed(fig, started)
    fig.count_requests(ws.requests_since(mark))
    if rows is None:
        fig.note = "the load ended before the kill point"
    elif victim and not pids:
        fig.ok, fig.note = False, f"no {victim} process to kill"
    else:
        fig.note = f"killed with {rows:,} rows reported read (exit {killed.returncode})"
    if rows is not None and killed.returncode == 0:
        fig.note += "; the load had already finished"
    if rerun.returncode:
        _failed(fig, rerun)
    if survivors:
        fig.ok, fig.note = False, f"{fig.note}; processes survived: {survivors}"
    left = leftovers(ws, db)  # the rerun swept what the killed run left in its temp folder
    if left:
        fig.ok, fig.note = False, f"{fig.note}; left behind: {', '.join(left[:3])}"
    fig.check(dest_ids(db, "main.events"), ws.sim.truth.ids("events"))
    return fig


def plain_load(ws: Workspace) -> Figures:
    """An uninterrupted events load, then a rerun with nothing new (the kill runs' baseline)."""
    fig = Figures("events load, uninterrupted, then a rerun (baseline)")
    db = ws.db("baseline")
    mark, started = ws.mark(), time.monotonic()
    fig.runs = [ws.omniload("events", db, key_in_uri=False) for _ in range(2)]
    _elapsed(fig, started)
    fig.count_requests(ws.requests_since(mark))
    for run in fig.runs:
        if run.returncode:
            _failed(fig, run)
    ends = [m for run in fig.runs for m in run.messages if m["type"] == "end"]
    fig.note = ", ".join(f"{m['rows_loaded']:,} rows loaded in {m['duration']:.1f} s" for m in ends)
    fig.check(dest_ids(db, "main.events"), ws.sim.truth.ids("events"))
    return fig


def tap_kill_chain(ws: Workspace, kill_after: list[int], page_size: int = 1000) -> Figures:
    """SIGKILL successive tap runs after ``kill_after[i]`` records of run i, each resuming from
    the last STATE of the run before; a final run finishes.

    Re-sent records (read again after a resume) are merged on ``id`` by any destination; each
    resume may re-send at most one page.
    """
    fig = Figures(
        f"tap SIGKILLed {len(kill_after)}x, resumed from its state (pages of {page_size})"
    )
    mark, started = ws.mark(), time.monotonic()
    settings = {"events_page_size": page_size}
    state: dict | None = None
    ids: list[str] = []
    retries = kills = 0
    for count in [*kill_after, None]:
        run, records, last = ws.tap(["events"], settings, state, kill_after=count)
        fig.runs.append(run)
        ids += [str(r["id"]) for r in records]
        retries += run.retry_lines
        state = last or state
        kills += run.returncode == -signal.SIGKILL
        if run.returncode not in (0, -signal.SIGKILL) or (count is None and run.returncode):
            _failed(fig, run)
    _elapsed(fig, started)
    fig.count_requests(ws.requests_since(mark))
    fig.retries = retries
    resent = len(ids) - len(set(ids))
    fig.note = fig.note or f"{kills} kills; {resent:,} rows re-sent after resumes (merged on id)"
    if resent > len(kill_after) * page_size:
        fig.ok, fig.note = False, f"{resent} re-sent rows: resumed from too far back"
    fig.check(sorted(set(ids)), ws.sim.truth.ids("events"))
    return fig


def read_timeout(ws: Workspace, timeout: float = 2, slow: float = 3) -> Figures:
    """Tap with ``request_timeout`` below a slow response on the Query API and on persons."""
    fig = Figures(f"responses slower than the read timeout ({slow:g} s > {timeout:g} s)")
    ws.sim.faults.script(r"/query/$", [f"slow:{slow}", f"slow:{slow}"])
    mark, started = ws.mark(), time.monotonic()
    run, records, _ = ws.tap(["events", "persons"], {"request_timeout": timeout})
    fig.runs.append(run)
    _elapsed(fig, started)
    fig.count_requests(ws.requests_since(mark), read_timeout=timeout)
    fig.retries = run.retry_lines
    timeouts = run.stderr.count("read timed out")
    fig.note = f"{timeouts} read timeouts retried"
    if run.returncode or timeouts < 2:
        _failed(fig, run)
    got = [f"{r['project_id']}:{r['id']}" for r in records]
    want = [f"{ws.sim.project_id}:{i}" for s in ("events", "persons") for i in ws.sim.truth.ids(s)]
    fig.check(got, want)
    return fig


def _window_hours(body: bytes | None) -> float | None:
    try:
        values = json.loads(body or b"")["query"]["values"]
        lo, hi = (datetime.fromisoformat(values[k].replace("Z", "+00:00")) for k in ("lo", "hi"))
    except (ValueError, KeyError, TypeError):
        return None
    return (hi - lo).total_seconds() / 3600


def query_timeout(ws: Workspace, timeouts: int = 2) -> Figures:
    """Events page queries that hit PostHog's time limit: the tap narrows the window."""
    fig = Figures(f"Query API time limit hit {timeouts}x (events)")
    first = min(r["timestamp"] for r in ws.sim.truth.records("events"))
    start = first[:13] + ":00:00Z"  # the hour of the first event: no min(timestamp) query
    ws.sim.faults.script(r"/query/$", ["query_timeout"] * timeouts)
    mark, started = ws.mark(), time.monotonic()
    db = ws.db("query_timeout")
    run = ws.omniload("events", db, "--interval-start", start, key_in_uri=True)
    fig.runs.append(run)
    _elapsed(fig, started)
    records = ws.requests_since(mark)
    fig.count_requests(records)
    widths = [w for w in (_window_hours(r.body) for r in records[: timeouts + 1]) if w]
    fig.note = "window " + " -> ".join(f"{w:g} h" for w in widths)
    if run.returncode:
        _failed(fig, run)
    if len(widths) > 1 and not all(b < a for a, b in itertools.pairwise(widths)):
        fig.ok, fig.note = False, f"window did not narrow: {fig.note}"
    fig.check(dest_ids(db, "main.events"), ws.sim.truth.ids("events"))
    return fig


def heavy_tap_all_streams(
    ws: Workspace, page_size: int = 20, events_page_size: int = 1000
) -> Figures:
    """Every stream in one tap run with small pages, so the fault profile hits many requests."""
    streams = sorted({spec.stream for spec in TABLES.values()})
    fig = Figures(f"heavy faults: all streams, tap only ({page_size}-row pages)")
    mark, started = ws.mark(), time.monotonic()
    settings = {"page_size": page_size, "events_page_size": events_page_size}
    run, records, _ = ws.tap(streams, settings)
    fig.runs.append(run)
    _elapsed(fig, started)
    fig.count_requests(ws.requests_since(mark))
    fig.retries = run.retry_lines
    if run.returncode:
        _failed(fig, run)
    by_stream: dict[str, list[str]] = {}
    for record in records:
        by_stream.setdefault(record["_stream"], []).append(str(key_of(record["_stream"], record)))
    got = [f"{s}:{i}" for s, ids in by_stream.items() for i in ids]
    fig.check(got, [f"{s}:{i}" for s in streams for i in ws.sim.truth.ids(s)])
    return fig


# -- overlapping runs and signals -------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """A point in a running omniload, seen from outside: ``spawn`` (the process was just
    started: before its tap), the ``start`` message (lock taken, staging made), the ``load``
    phase (tap and target started), the n-th ``progress`` message, the simulator's n-th
    ``request``, or the ``apply`` phase (tap and target done, applying)."""

    kind: str
    value: float = 0

    @property
    def label(self) -> str:
        """Human description."""
        return {
            "spawn": "right after it was spawned (before its tap)",
            "start": "at its start message",
            "load": "when its tap and target started",
            "progress": f"at its progress message {self.value:g}",
            "request": f"after API request {self.value:g} of its load",
            "apply": "at its apply step",
        }[self.kind]


def wait_moment(watched: Watched, moment: Moment, served: Callable[[], int]) -> bool:
    """Block until ``moment`` (driven by messages and requests, not time); False if it ended."""
    if moment.kind == "spawn":
        return True
    deadline = time.monotonic() + 300
    progress = 0
    while time.monotonic() < deadline:
        if moment.kind == "request" and served() >= moment.value:
            return True
        message = watched.next_message(min(deadline, time.monotonic() + 0.01))
        if watched.eof:
            return False
        if message is None:
            continue
        kind = message["type"]
        if kind in ("end", "error"):
            return False
        progress += kind == "progress"
        if (
            (moment.kind == "start" and kind == "start")
            or (moment.kind in ("load", "apply") and message.get("phase") == moment.kind)
            or (moment.kind == "progress" and progress >= moment.value)
        ):
            return True
    return False


def table_rows(db: Path, table: str) -> list[tuple]:
    """Every row of ``table`` (all columns), ordered by id; [] when it does not exist."""
    if not db.exists():
        return []
    with duckdb.connect(str(db), read_only=True) as con:
        try:
            return con.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        except duckdb.CatalogException:
            return []


def saved_bookmarks(db: Path) -> dict[str, str | None]:
    """dest_table -> replication_key_value of each saved state row."""
    if not db.exists():
        return {}
    with duckdb.connect(str(db), read_only=True) as con:
        try:
            rows = con.execute("SELECT dest_table, state FROM _omniload.state").fetchall()
        except duckdb.CatalogException:
            return {}
    out = {}
    for dest, state in rows:
        marks = [
            str(entry.get("replication_key_value"))
            for entry in json.loads(state).get("bookmarks", {}).values()
        ]
        out[dest] = max(marks) if marks else None
    return out


def leftovers(ws: Workspace, db: Path) -> list[str]:
    """What a finished run must not leave: staging schemas, tables named ``tmp_*`` outside
    them, run folders in omniload's private temp folder, files elsewhere in TMPDIR."""
    found: list[str] = []
    if db.exists():
        found += [f"schema {s}" for s in stage_schemas(db)]
        with duckdb.connect(str(db), read_only=True) as con:
            rows = con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        found += [f"table {s}.{t}" for s, t in rows
                  if t.startswith("tmp_") and not s.startswith("_omniload_stage_")]  # fmt: skip
    private = ws.tmp / f"omniload-{os.getuid()}"
    found += [f"run folder {p.name}" for p in private.glob("run-*")]
    for path in ws.tmp.rglob("*"):
        rel = path.relative_to(ws.tmp)
        if path.is_file() and private not in path.parents and not rel.parts[0].startswith("tap-"):
            found.append(f"temp file {rel}")
    return found


class Reference:
    """Uninterrupted single loads, to compare whole rows and bookmarks with."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.loads: dict[tuple[str, tuple[str, ...]], tuple[list[tuple], dict]] = {}

    def get(self, table: str, extra: tuple[str, ...]) -> tuple[list[tuple], dict]:
        key = (table, extra)
        if key not in self.loads:
            db = self.ws.db(f"reference_{len(self.loads)}")
            run = self.ws.omniload(table, db, *extra, key_in_uri=False)
            assert run.returncode == 0, run.stderr[-2000:]
            dest = f"main.{TABLES[table].default_dest_table}"
            self.loads[key] = (table_rows(db, dest), saved_bookmarks(db))
        return self.loads[key]


def overlap(
    ws: Workspace, ref: Reference, moment: Moment, table: str = "events",
    extra: tuple[str, ...] = (), name: str = "overlap",
) -> Figures:  # fmt: skip
    """Start a second ``omniload ingest`` of the same table while the first is at ``moment``.

    Passes when both exit 0 (the second waits for the first's lock), the table holds exactly
    the ground truth with every row equal to an uninterrupted load's, the saved bookmark is the
    uninterrupted load's, and nothing is left behind.
    """
    flags = " ".join(extra)
    fig = Figures(f"second run {flags} starts {moment.label}".replace("  ", " "))
    spec = TABLES[table]
    dest = f"main.{spec.default_dest_table}"
    want_rows, want_marks = ref.get(table, extra)
    db = ws.db(name)
    mark, started = ws.mark(), time.monotonic()
    args = ("--lock-timeout", "300", *extra)
    first = ws.spawn_omniload(table, db, *args, key_in_uri=False)
    reached = wait_moment(first, moment, lambda: ws.mark() - mark)
    second = ws.spawn_omniload(table, db, *args, key_in_uri=False)
    runs = [first.finish(), second.finish()]
    fig.runs += runs
    _elapsed(fig, started)
    fig.count_requests(ws.requests_since(mark))
    waits = [any(m["type"] == "note" and "waiting" in m["message"] for m in run.messages)
             for run in runs]  # fmt: skip
    fig.note = "no wait needed"
    if waits[0] or waits[1]:
        fig.note = "the second run waited for the first" if waits[1] else "the first waited"
    if not reached:
        fig.note = "the first run ended before the moment"
    for run in runs:
        if run.returncode:
            _failed(fig, run)
    rows = table_rows(db, dest)
    if rows != want_rows:
        fig.ok, fig.note = False, f"{fig.note}; rows differ from an uninterrupted load"
    marks = saved_bookmarks(db)
    if marks != want_marks:
        fig.ok, fig.note = False, f"{fig.note}; bookmark {marks} != {want_marks}"
    left = leftovers(ws, db)
    if left:
        fig.ok, fig.note = False, f"{fig.note}; left behind: {', '.join(left[:3])}"
    fig.check(dest_ids(db, dest), ws.sim.truth.ids(spec.stream))
    return fig


def _snapshot(db: Path) -> tuple[list[tuple], dict]:
    return table_rows(db, "main.events"), saved_bookmarks(db)


def interrupt(ws: Workspace, moment: Moment, sig: signal.Signals, name: str) -> Figures:
    """Signal an incremental events load at ``moment``; the destination must be as it was.

    The destination first holds the first half of the events (an interval load: no bookmark),
    so the interrupted run, had it finished, would change it. Exit 128 + signal with the
    destination unchanged, or (a signal after the commit began) exit 0 with the load complete;
    tap and target gone, nothing left behind; a rerun is then exact.
    """
    fig = Figures(f"{sig.name} omniload {moment.label}")
    truth = sorted(ws.sim.truth.records("events"), key=lambda r: r["timestamp"])
    half = truth[len(truth) // 2]["timestamp"]
    db = ws.db(name)
    mark, started = ws.mark(), time.monotonic()
    fig.runs.append(ws.omniload("events", db, "--interval-end", half, key_in_uri=False))
    before = _snapshot(db)
    load_mark = ws.mark()
    watched = ws.spawn_omniload("events", db, key_in_uri=False)
    reached = wait_moment(watched, moment, lambda: ws.mark() - load_mark)
    kids = list(children(watched.proc.pid))
    if reached:
        os.kill(watched.proc.pid, sig)
    run = watched.finish()
    survivors = wait_gone(kids)
    after = _snapshot(db)
    left = leftovers(ws, db)
    rerun = ws.omniload("events", db, key_in_uri=False)
    fig.runs += [run, rerun]
    _elapsed(fig, started)
    fig.count_requests(ws.requests_since(mark))
    last = run.stderr.strip().splitlines()[-1:] or [""]
    if not reached:
        fig.note = "the load ended before the moment"
    elif run.returncode == 128 + sig.value:
        fig.note = f"exit {run.returncode}, destination unchanged" if after == before else ""
        if after != before:
            fig.ok, fig.note = False, f"exit {run.returncode} but the destination changed"
        elif "interrupted by" not in last[0]:
            fig.ok, fig.note = False, f"last line: {last[0][:120]}"
    elif run.returncode == 0:
        fig.note = "the signal came after the commit had started: load complete (exit 0)"
    else:
        _failed(fig, run)
    if fig.runs[0].returncode or rerun.returncode:
        _failed(fig, rerun if rerun.returncode else fig.runs[0])
    if survivors:
        fig.ok, fig.note = False, f"{fig.note}; processes survived: {survivors}"
    if left:
        fig.ok, fig.note = False, f"{fig.note}; left behind: {', '.join(left[:3])}"
    fig.check(dest_ids(db, "main.events"), ws.sim.truth.ids("events"))
    return fig
