"""Reliability toolkit: run omniload and the tap as processes, kill them, count, scan for the key.

Shared by ``tests/test_reliability.py`` and ``scripts/reliability.py``; holds no tests.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import duckdb

from posthog_sim import RequestRecord, Simulator
from tap_posthog.client import RETRY_LOG_PATTERN
from tests.taprun import catalog_for

BIN = Path(sys.executable).parent
OMNILOAD = str(BIN / "omniload")
TAP = str(BIN / "tap-posthog")
RETRY_LINE = RETRY_LOG_PATTERN
_SCRUB = ("OMNILOAD_", "POSTHOG_", "TAP_POSTHOG_")


@dataclass
class Run:
    """One finished (or killed) process: exit code, output and parsed JSON lines."""

    label: str
    returncode: int
    stdout: str
    stderr: str
    messages: list[dict] = field(default_factory=list)

    @property
    def retry_lines(self) -> int:
        """The tap's "...; waiting X s, then retry (attempt N of M failed)" lines on stderr."""
        return len(RETRY_LINE.findall(self.stderr))


@dataclass
class Artefacts:
    """Everything a scenario produced that must not contain the key."""

    texts: dict[str, str] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)

    def add_run(self, run: Run) -> None:
        """Keep a run's stdout and stderr."""
        n = len(self.texts)
        self.texts[f"{n}:{run.label}:stdout"] = run.stdout
        self.texts[f"{n}:{run.label}:stderr"] = run.stderr

    def merge(self, other: Artefacts) -> None:
        """Add another collection to this one."""
        n = len(self.texts)
        self.texts.update({f"{n}+{k}": v for k, v in other.texts.items()})
        self.paths += other.paths
        self.requests += other.requests


@dataclass
class Figures:
    """One scenario's numbers, as docs/reliability.md shows them."""

    scenario: str
    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    expected: int = 0
    lost: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    ok: bool = True
    note: str = ""
    runs: list[Run] = field(default_factory=list, repr=False)

    def check(self, got: Sequence[str], want: Iterable[Any]) -> None:
        """Compare destination ids with the ground truth: set lost, duplicates and ok."""
        wanted = {str(i) for i in want}
        self.expected = len(wanted)
        self.lost = len(wanted - set(got))
        self.duplicates = len(got) - len(set(got))
        extra = len(set(got) - wanted)
        self.ok = self.ok and self.lost == 0 and self.duplicates == 0 and extra == 0
        if extra:
            self.note = f"{extra} unexpected ids; {self.note}".rstrip("; ")

    def count_requests(self, records: Sequence[RequestRecord], read_timeout: float = 120) -> None:
        """Add requests, faults by kind and failed attempts (each one retried by the client)."""
        self.requests += len(records)
        for record in records:
            kind, _, arg = (record.fault or "").partition(":")
            if kind:
                self.faults[kind] += 1
            timed_out = kind == "slow" and float(arg or 0) >= read_timeout
            if not 200 <= record.status < 300 or kind == "drop_mid_body" or timed_out:
                self.retries += 1


class Workspace:
    """A scenario's folder: DuckDB files, a private TMPDIR for omniload, collected artefacts."""

    def __init__(self, root: Path, sim: Simulator) -> None:
        """Create ``root`` and its ``tmp`` folder."""
        self.root, self.sim = root, sim
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.artefacts = Artefacts(paths=[self.tmp])

    def db(self, name: str) -> Path:
        """A new DuckDB path under the workspace (scanned later, with its .wal)."""
        path = self.root / f"{name}.duckdb"
        self.artefacts.paths += [path, path.with_name(path.name + ".wal")]
        return path

    def mark(self) -> int:
        """Position in the simulator's request log (see :meth:`requests_since`)."""
        return len(self.sim.requests)

    def requests_since(self, mark: int) -> list[RequestRecord]:
        """Requests served since ``mark``; also kept for the secret scan."""
        records = self.sim.requests.snapshot()[mark:]
        self.artefacts.requests += records
        return records

    # -- omniload -----------------------------------------------------------------------

    def omniload_cmd(self, table: str, db: Path, *extra: str, key_in_uri: bool) -> list[str]:
        """``omniload ingest`` arguments; the key goes in the URI or (else) the environment."""
        sim = self.sim
        key = f"personal_api_key={sim.api_key}&" if key_in_uri else ""
        uri = f"posthog://?{key}project_id={sim.project_id}&base_url={sim.base_url}"
        return [OMNILOAD, "ingest", "--source-uri", uri, "--source-table", table,
                "--dest-uri", f"duckdb:///{db}", "--progress", "json", "--yes", *extra]  # fmt: skip

    def env(self, key_in_uri: bool) -> dict[str, str]:
        """Clean environment with TMPDIR in the workspace (killed runs leave their temp dir)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
        env["TMPDIR"] = str(self.tmp)
        if not key_in_uri:
            env["POSTHOG_PERSONAL_API_KEY"] = self.sim.api_key
        return env

    def spawn_omniload(self, table: str, db: Path, *extra: str, key_in_uri: bool) -> Watched:
        """Start omniload; its JSON stdout is read by a background thread."""
        proc = subprocess.Popen(
            self.omniload_cmd(table, db, *extra, key_in_uri=key_in_uri),
            env=self.env(key_in_uri), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        return Watched(proc, f"omniload {table}", self.artefacts)

    def omniload(self, table: str, db: Path, *extra: str, key_in_uri: bool = True) -> Run:
        """Run omniload to the end (or its 300 s timeout)."""
        return self.spawn_omniload(table, db, *extra, key_in_uri=key_in_uri).finish()

    # -- tap ------------------------------------------------------------------------------

    def tap(
        self,
        streams: list[str],
        settings: dict[str, Any] | None = None,
        state: dict | None = None,
        kill_after: int | None = None,
    ) -> tuple[Run, list[dict], dict | None]:
        """Run ``tap-posthog`` (key in its environment); SIGKILL it after ``kill_after`` records.

        Returns the run, the records and the last STATE emitted.
        """
        sim = self.sim
        config = {"project_id": sim.project_id, "base_url": sim.base_url, **(settings or {})}
        folder = Path(tempfile.mkdtemp(dir=self.tmp, prefix="tap-"))
        files = {n: folder / f"{n}.json" for n in ("config", "catalog", "state")}
        files["config"].write_text(json.dumps(config))
        discover = {**config, "personal_api_key": "unused-for-discovery"}  # quiet validation
        files["catalog"].write_text(json.dumps(catalog_for(discover, streams)))
        args = [TAP, "--config", str(files["config"]), "--config", "ENV",
                "--catalog", str(files["catalog"])]  # fmt: skip
        if state is not None:
            files["state"].write_text(json.dumps(state))
            args += ["--state", str(files["state"])]
        env = self.env(key_in_uri=True) | {"TAP_POSTHOG_PERSONAL_API_KEY": sim.api_key}
        records: list[dict] = []
        last_state: dict | None = None
        with (folder / "stderr").open("w+") as err:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, env=env, text=True)
            lines = []
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                message = json.loads(line)
                if message["type"] == "RECORD":
                    records.append({**message["record"], "_stream": message["stream"]})
                    if kill_after is not None and len(records) >= kill_after:
                        proc.send_signal(signal.SIGKILL)
                        break
                elif message["type"] == "STATE":
                    last_state = message["value"]
            proc.wait(timeout=300)
            err.seek(0)
            run = Run(f"tap {','.join(streams)}", proc.returncode, "".join(lines), err.read())
        self.artefacts.add_run(run)
        return run, records, last_state


class Watched:
    """A running omniload whose JSON progress lines arrive on a queue."""

    def __init__(self, proc: subprocess.Popen, label: str, artefacts: Artefacts) -> None:
        """Start reading stdout in a thread."""
        self.proc, self.label, self.artefacts = proc, label, artefacts
        self.started = time.monotonic()
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        self.messages: list[dict] = []
        self.eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_message(self, deadline: float) -> dict | None:
        """The next JSON message, or None at EOF or once ``deadline`` (monotonic) passed."""
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if line is None:
                self.lines.put(None)
                self.eof = True
                return None
            self.stdout.append(line)
            if line.strip():
                message = json.loads(line)
                self.messages.append(message)
                return message  # type: ignore[no-any-return]

    def finish(self, timeout: float = 300) -> Run:
        """Wait for the exit; drain output; record the run's texts."""
        deadline = time.monotonic() + timeout
        while self.next_message(deadline) is not None:
            pass
        try:
            self.proc.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        stderr = self.proc.stderr.read() if self.proc.stderr else ""
        run = Run(self.label, self.proc.returncode, "".join(self.stdout), stderr, self.messages)
        self.artefacts.add_run(run)
        return run


# -- processes --------------------------------------------------------------------------


def children(pid: int) -> dict[int, str]:
    """Child processes of ``pid`` (from /proc) with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids: Iterable[int], timeout: float = 10.0) -> list[int]:
    """Wait until every pid has exited; return those still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    left = [p for p in pids if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    return left


# -- destination and scan -----------------------------------------------------------------


def dest_ids(db: Path, table: str, columns: Sequence[str] = ("id",)) -> list[str]:
    """Keys in a destination table ([] when the file or table does not exist).

    One column gives ``str(value)``; several give ``str(tuple)``, as ``Truth.ids`` renders them.
    """
    if not db.exists():
        return []
    with duckdb.connect(str(db), read_only=True) as con:
        try:
            rows = con.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
        except duckdb.CatalogException:
            return []
    return [str(r[0]) if len(columns) == 1 else str(tuple(r)) for r in rows]
    with duckdb.connect(str(db), read_only=True) as con:
        try:
            return [str(r[0]) for r in con.execute(f"SELECT id FROM {table}").fetchall()]
        except duckdb.CatalogException:
            return []


def stage_schemas(db: Path) -> list[str]:
    """Leftover ``_omniload_stage_*`` schemas."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()
    return [r[0] for r in rows if r[0].startswith("_omniload_stage_")]


@dataclass
class ScanReport:
    """What the secret scan looked at and where it found a key."""

    hits: list[str] = field(default_factory=list)
    texts: int = 0
    files: int = 0
    bytes: int = 0
    db_rows: int = 0
    requests: int = 0


def _scan_db(path: Path, needles: list[str], report: ScanReport) -> None:
    """Every row of every table (including ``_omniload.state``), rendered as text."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = "
            "current_database()"
        ).fetchall()
        for schema, table in tables:
            fq = f'"{schema}"."{table}"'
            report.db_rows += con.execute(f"SELECT count(*) FROM {fq}").fetchone()[0]  # type: ignore[index]
            for needle in needles:
                found = con.execute(
                    f"SELECT count(*) FROM {fq} AS r WHERE contains(CAST(r AS VARCHAR), ?)",
                    [needle],
                ).fetchone()[0]  # type: ignore[index]
                if found:
                    report.hits.append(f"{path.name}: {fq} ({found} rows)")


def scan(artefacts: Artefacts, keys: Iterable[str]) -> ScanReport:
    """Look for every key in texts, files (raw bytes), DuckDB rows and request URLs/bodies.

    A key may travel only in a request's Authorization header.
    """
    needles = sorted(set(keys))
    raw = [k.encode() for k in needles]
    report = ScanReport()
    for label, text in artefacts.texts.items():
        report.texts += 1
        report.hits += [f"text {label}" for k in needles if k in text]
    files: set[Path] = set()
    for path in artefacts.paths:
        if path.is_dir():
            files.update(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files.add(path)
    for path in sorted(files):  # raw bytes first: opening a database may replay its .wal
        data = path.read_bytes()
        report.files += 1
        report.bytes += len(data)
        report.hits += [f"file {path}" for k in raw if k in data]
    for path in sorted(p for p in files if p.suffix == ".duckdb"):
        _scan_db(path, needles, report)
    for record in artefacts.requests:
        report.requests += 1
        headers = {k: v for k, v in record.headers.items() if k.lower() != "authorization"}
        visible = f"{record.path}?{urlencode(record.query, doseq=True)} {headers}"
        body = (record.body or b"").decode("utf-8", "replace")
        for key in needles:
            if key in visible or key in body:
                report.hits.append(f"request {record.method} {record.path}")
        if record.auth_source not in (None, "Authorization header"):
            report.hits.append(f"request {record.path}: key read from {record.auth_source}")
    return report
