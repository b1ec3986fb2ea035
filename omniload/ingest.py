"""``omniload ingest``: turn validated options into a plan, run the pair, apply, summarise."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from omniload import deletions, load, store
from omniload.catalog import catalog_for
from omniload.errors import RunError, UsageError
from omniload.interval import Interval, iso_utc, parse_interval
from omniload.lock import DestinationLock
from omniload.pipeline import PairSpec, run_pair
from omniload.progress import Reporter, Ticker
from omniload.tables import STRATEGIES, TableSpec, resolve_table
from omniload.uri import (
    DestTable,
    SourceURI,
    parse_dest_table,
    parse_dest_uri,
    parse_source_uri,
)
from omniload.workdir import RunDir

TARGET_BATCH_ROWS = 20_000
#: DuckDB buffer of the target; its staging table and key index fit, so RSS stays flat.
TARGET_MEMORY_LIMIT = "96MB"
#: Default wait for another run on the same destination file (``--lock-timeout``).
DEFAULT_LOCK_TIMEOUT = 60.0
_PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


@dataclass
class Options:
    """Raw ``ingest`` options after flag/env merging."""

    source_uri: str | None = None
    source_table: str | None = None
    dest_uri: str | None = None
    dest_table: str | None = None
    incremental_strategy: str | None = None
    primary_key: list[str] = field(default_factory=list)
    interval_start: str | None = None
    interval_end: str | None = None
    full_refresh: bool = False
    env_key: str | None = None
    deletions: str | None = None
    lock_timeout: str | None = None


@dataclass(frozen=True)
class Plan:
    """A validated run."""

    source: SourceURI
    table: TableSpec
    db_path: Path
    dest: DestTable
    strategy: str
    primary_key: tuple[str, ...]
    key_overridden: bool
    interval: Interval
    full_refresh: bool
    deletions: str = deletions.DEFAULT_MODE
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT

    @property
    def source_key(self) -> str:
        """State key: host, projects (sorted, so their order does not matter) and table."""
        projects = ",".join(sorted(self.source.project_ids, key=int))
        return f"posthog://{self.source.host}/{projects}/{self.table.name}"

    @property
    def use_saved_state(self) -> bool:
        """Continue from the bookmark (not for --full-refresh, intervals or replace)."""
        return not (self.full_refresh or self.interval.is_set or self.strategy == "replace")

    @property
    def saves_state(self) -> bool:
        """An explicit interval leaves the saved bookmark alone."""
        return not self.interval.is_set

    def describe(self) -> dict[str, Any]:
        """The plan as shown to users (key redacted)."""
        info: dict[str, Any] = {
            "source": self.source.redacted(),
            "source_table": self.table.name,
            "dest": f"duckdb:///{self.db_path}",
            "dest_table": str(self.dest),
            "strategy": self.strategy,
            "primary_key": list(self.primary_key),
            "incremental_key": self.table.incremental_key,
        }
        if self.interval.is_set:
            info["interval"] = self.interval.describe()
        if self.full_refresh:
            info["full_refresh"] = True
        if self.table.stream != "events":
            info["deletions"] = self.deletions
        return info


def make_plan(opts: Options) -> Plan:
    """Validate every input before anything runs.

    Raises:
        UsageError: Any invalid or inconsistent input.
    """
    source = parse_source_uri(opts.source_uri or "", opts.env_key)
    table = resolve_table(opts.source_table or "")
    db_path = parse_dest_uri(opts.dest_uri or "")
    dest = parse_dest_table(opts.dest_table or table.default_dest_table)
    interval = parse_interval(opts.interval_start, opts.interval_end)
    strategy = (opts.incremental_strategy or table.strategy).strip().lower()
    if strategy not in STRATEGIES:
        raise UsageError(
            f"invalid --incremental-strategy {opts.incremental_strategy!r}; "
            f"choose one of {', '.join(STRATEGIES)}"
        )
    if opts.full_refresh:
        if interval.is_set:
            raise UsageError(
                "--full-refresh cannot be combined with --interval-start/--interval-end"
            )
        strategy = "replace"
    if interval.is_set and table.incremental_key is None:
        raise UsageError(f"{table.name} has no incremental key, so it cannot be loaded by interval")
    mode = (opts.deletions or deletions.DEFAULT_MODE).strip().lower()
    if mode not in deletions.MODES:
        raise UsageError(
            f"invalid --deletions {opts.deletions!r}; choose one of {', '.join(deletions.MODES)}"
        )
    lock_timeout = _lock_timeout(opts.lock_timeout)
    keys = tuple(k.strip() for item in opts.primary_key for k in item.split(",") if k.strip())
    if opts.primary_key and not keys:
        raise UsageError("--primary-key is empty")
    return Plan(
        source=source,
        table=table,
        db_path=db_path,
        dest=dest,
        strategy=strategy,
        primary_key=keys or table.primary_key,
        key_overridden=bool(keys),
        interval=interval,
        full_refresh=opts.full_refresh,
        deletions=mode,
        lock_timeout=lock_timeout,
    )


def _lock_timeout(raw: str | None) -> float:
    if raw is None or not raw.strip():
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86_400:
        raise UsageError(f"invalid --lock-timeout {raw!r}: seconds from 0 to 86400")
    return value


def check_reachable(base_url: str, timeout: float = 5.0) -> None:
    """Fail fast when the API host cannot be reached (skipped behind a proxy).

    Raises:
        RunError: DNS lookup or TCP connection failed.
    """
    if any(os.environ.get(var) for var in _PROXY_VARS):
        return
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except socket.gaierror:
        raise RunError(f"cannot reach {base_url}: unknown host {host!r}") from None
    except TimeoutError:
        raise RunError(f"cannot reach {base_url}: no answer within {timeout:.0f} s") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RunError(f"cannot reach {base_url}: {reason.lower()}") from None


def bookmark_of(state: dict | None, stream: str) -> str | None:
    """The replication-key value saved for ``stream`` in a Singer state, if any."""
    if not isinstance(state, dict):
        return None
    entry = state.get("bookmarks", {}).get(stream)
    if not isinstance(entry, dict):
        return None
    value = entry.get("replication_key_value")
    if value is None:
        values = [
            p.get("replication_key_value")
            for p in entry.get("partitions", [])
            if isinstance(p, dict) and p.get("replication_key_value") is not None
        ]
        value = max(values) if values else None
    return None if value is None else str(value)


def _tap_config(plan: Plan) -> dict[str, Any]:
    ids = plan.source.project_ids
    config: dict[str, Any] = {"base_url": plan.source.base_url}
    if len(ids) == 1:
        config["project_id"] = ids[0]  # one project: the tap's unpartitioned state
    else:
        config["project_ids"] = [int(pid) for pid in ids]
    # Whole-read streams announce a complete read (deletions.py); events ignore it.
    config["emit_activate_version_messages"] = True
    if plan.table.stream == "events":
        if plan.source.events_person_properties:
            config["events_person_properties"] = True
        if plan.interval.start is not None:
            config["start_date"] = iso_utc(plan.interval.start)
        if plan.interval.end is not None:
            config["end_date"] = iso_utc(plan.interval.end)
    return config


def _target_config(plan: Plan, db_path: Path, stage: str, tmp: Path) -> dict[str, Any]:
    return {
        "path": str(db_path),
        "default_target_schema": stage,
        "temp_dir": str(tmp),
        "batch_size_rows": TARGET_BATCH_ROWS,
        "data_flattening_max_level": 0,
        "primary_key_required": False,
        "hard_delete": False,
        "add_metadata_columns": False,
        "validate_records": False,
        # ``schema``: target-duckdb's unqualified tmp_<uuid> tables land in the staging schema;
        # ``temp_directory``: DuckDB's spill files stay in the run's private folder.
        "settings": {
            "memory_limit": TARGET_MEMORY_LIMIT,
            "schema": stage,
            "temp_directory": str(tmp / "duckdb"),
        },
    }


def run(plan: Plan, reporter: Reporter) -> dict[str, Any]:
    """Run the plan; return the summary that was reported.

    Raises:
        RunError: Anything failed; the destination table and saved state are then unchanged.
    """
    started = time.monotonic()
    db_path = plan.db_path.resolve()
    lock = DestinationLock(db_path, str(plan.dest))
    lock.acquire(plan.lock_timeout, on_wait=reporter.note)
    try:
        with RunDir() as tmp:
            return _locked_run(plan, reporter, db_path, tmp.path, started)
    finally:
        lock.release()


def _locked_run(
    plan: Plan, reporter: Reporter, db_path: Path, tmp: Path, started: float
) -> dict[str, Any]:
    stage = store.stage_schema_name(plan.source_key, str(plan.dest))
    check_reachable(plan.source.base_url)
    saved = store.prepare(db_path, plan.source_key, plan.dest, stage)
    reporter.start(plan.describe())
    ticker: Ticker | None = None

    def on_start(relay: Any) -> None:
        nonlocal ticker
        reporter.phase("load")
        ticker = Ticker(reporter, lambda: relay.records)
        ticker.start()

    try:
        result = run_pair(
            PairSpec(
                api_key=plan.source.api_key,
                stream=plan.table.stream,
                tap_config=_tap_config(plan),
                target_config=_target_config(plan, db_path, stage, tmp),
                catalog=catalog_for(plan.table.stream),
                state=saved if plan.use_saved_state else None,
                primary_key=plan.primary_key if plan.key_overridden else None,
                on_start=on_start,
            ),
            tmp,
        )
        if ticker is not None:
            ticker.stop()
        new_state = result.state if plan.saves_state else None
        # Deletions only after a complete read of a whole-read table, never for an interval.
        drop_missing = result.complete_whole_read and not plan.interval.is_set
        reporter.phase("apply")
        rows_loaded = load.apply(
            db_path,
            load.ApplyPlan(
                stage_schema=stage,
                stage_table=plan.table.stream.lower(),
                dest=plan.dest,
                strategy=plan.strategy,
                primary_key=plan.primary_key,
                skip_existing_ids=plan.table.immutable and plan.strategy == "append",
                source_key=plan.source_key,
                interval=plan.interval,
                incremental_key=plan.table.incremental_key,
                new_state=new_state,
                deletions=plan.deletions if drop_missing else None,
                expected_rows=result.records,
                key_overridden=plan.key_overridden,
            ),
            on_retry=lambda n: reporter.note(f"destination locked by another process; retry {n}"),
            temp_dir=tmp / "duckdb",
        )
    except BaseException:
        if ticker is not None:
            ticker.stop()
        _drop_stage_quietly(db_path, stage)
        raise
    kept = new_state if new_state is not None else saved
    summary = {
        "rows": result.records,
        "rows_loaded": rows_loaded,
        "duration": round(time.monotonic() - started, 3),
        "dest_table": str(plan.dest),
        "bookmark": bookmark_of(kept, plan.table.stream),
    }
    reporter.end(summary)
    return summary


def _drop_stage_quietly(db_path: Path, stage: str) -> None:
    try:
        store.drop_stage(db_path, stage)
    except BaseException:  # noqa: BLE001 - best effort; the next run drops it too
        return
