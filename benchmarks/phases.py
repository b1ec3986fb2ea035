"""The four measured commands, each run against the same simulator."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from benchmarks.procs import run_measured
from benchmarks.sim import SimProcess
from omniload.catalog import catalog_for

BIN = Path(sys.executable).parent
DEST_TABLE = "posthog.events"
_RECORD_COUNT = re.compile(r'"metric":\s*"record_count",\s*"value":\s*(\d+)')


@dataclass
class PhaseResult:
    """One measured command: counts from the simulator, time and resources per process."""

    name: str
    command: str
    rows: int
    requests: int
    requests_by_path: dict[str, int]
    page_rows: list[int]
    median_page_rows: float | None
    wall_s: float
    rows_per_s: float | None
    procs: list[dict[str, Any]]
    tree_cpu_s: float
    sim_cpu_s: float
    extra: dict[str, Any] = field(default_factory=dict)
    #: ClickHouse rows read by the command's queries (None when the simulator does not say).
    rows_read: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _env(sim: SimProcess, key_var: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_POSTHOG_", "OMNILOAD_"))}
    env.pop("POSTHOG_PERSONAL_API_KEY", None)
    env[key_var] = sim.api_key
    return env


def _measure(
    sim: SimProcess, name: str, cmd: list[str], env: dict[str, str], events: int | None, **kw: Any
) -> PhaseResult:
    sim.mark()
    sim_cpu = sim.cpu_s()
    measured = run_measured(cmd, label=name.split()[0], env=env, **kw)
    sim_cpu = sim.cpu_s() - sim_cpu
    served = sim.requests_since_mark()
    if measured.returncode != 0:
        raise RuntimeError(f"{name} failed with exit code {measured.returncode}: {' '.join(cmd)}")
    result = PhaseResult(
        name=name,
        command=" ".join(_display(cmd)),
        rows=served.rows,
        requests=served.total,
        requests_by_path=served.by_path,
        page_rows=served.page_rows,
        median_page_rows=served.median_page_rows,
        wall_s=measured.wall_s,
        rows_per_s=round(events / measured.wall_s) if events else None,
        procs=[asdict(p) for p in measured.procs],
        tree_cpu_s=measured.tree_cpu_s,
        sim_cpu_s=round(sim_cpu, 2),
        rows_read=served.rows_read,
    )
    return result


def _display(cmd: list[str]) -> list[str]:
    """The command with the interpreter and scripts shortened to their names."""
    return [Path(a).name if a.startswith(str(BIN)) or a == sys.executable else a for a in cmd]


def raw_client(
    sim: SimProcess, events: int, page_size: int, tmp: Path, decoder: str = "requests"
) -> PhaseResult:
    """Phase 1: the plain ``requests`` loop (``decoder="msgspec"``: the same with msgspec)."""
    cmd = [
        sys.executable, "-m", "benchmarks.raw_client", "--base-url", sim.base_url,
        "--project-id", str(sim.project_id), "--page-size", str(page_size), "--decoder", decoder,
    ]  # fmt: skip
    name = "raw client" if decoder == "requests" else "raw client (msgspec)"
    out = tmp / f"raw-{decoder}.json"
    with out.open("wb") as stdout:
        result = _measure(sim, name, cmd, _env(sim, "POSTHOG_PERSONAL_API_KEY"), events,
                             stdout=stdout)  # fmt: skip
    reported = json.loads(out.read_text())
    result.extra = {"rows_parsed": reported["rows"], "requests_sent": reported["requests"]}
    result.procs[0]["label"] = "raw client"
    return result


def tap_alone(sim: SimProcess, events: int, page_size: int, tmp: Path) -> PhaseResult:
    """Phase 2: ``tap-posthog`` with only ``events`` selected, stdout to /dev/null."""
    config = tmp / "tap-config.json"
    config.write_text(
        json.dumps(
            {"project_id": sim.project_id, "base_url": sim.base_url, "events_page_size": page_size}
        )
    )
    catalog = tmp / "catalog.json"
    if not catalog.exists():
        catalog.write_text(json.dumps(catalog_for("events")))
    cmd = [str(BIN / "tap-posthog"), "--config", str(config), "--config", "ENV",
           "--catalog", str(catalog)]  # fmt: skip
    log = tmp / "tap.log"
    with log.open("wb") as err:
        result = _measure(
            sim, "tap-posthog", cmd, _env(sim, "TAP_POSTHOG_PERSONAL_API_KEY"), events, stderr=err
        )
    # The SDK logs the count since its previous record_count line (once a minute on long runs).
    counts = _RECORD_COUNT.findall(log.read_text())
    result.extra = {"records_emitted": sum(map(int, counts)) if counts else None}
    return result


def omniload(sim: SimProcess, events: int | None, db: Path, name: str) -> PhaseResult:
    """Phases 3 and 4: ``omniload ingest`` of ``events`` into ``db`` (again: incremental)."""
    cmd = [
        str(BIN / "omniload"), "ingest",
        "--source-uri", f"posthog://?project_id={sim.project_id}&base_url={sim.base_url}",
        "--source-table", "events", "--dest-uri", f"duckdb:///{db}",
        "--dest-table", DEST_TABLE, "--yes", "--progress", "log",
    ]  # fmt: skip
    log = db.with_suffix(f".{name.split()[-1]}.log")
    with log.open("wb") as err:
        result = _measure(sim, name, cmd, _env(sim, "POSTHOG_PERSONAL_API_KEY"), events, stderr=err)
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(f"SELECT count(*), count(DISTINCT id) FROM {DEST_TABLE}").fetchone()
    assert row is not None
    result.extra = {"table_rows": row[0], "table_distinct_ids": row[1]}
    return result


def check_complete(result: PhaseResult, events: int) -> None:
    """A full load must have read, emitted and stored every event exactly once."""
    counts = {"rows served": result.rows, **result.extra}
    counts.pop("requests_sent", None)
    wrong = {k: v for k, v in counts.items() if v != events}
    if wrong:
        raise RuntimeError(f"{result.name} is incomplete ({events:,} events): {wrong}")
