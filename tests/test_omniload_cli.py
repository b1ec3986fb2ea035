"""``omniload ingest`` bad inputs: non-zero exit, one-line message, no traceback, no key shown."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

OMNILOAD = str(Path(sys.executable).with_name("omniload"))
KEY = "phx_cli_secret_0123456789"


def run_omniload(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OMNILOAD_", "POSTHOG_"))}
    return subprocess.run(
        [OMNILOAD, "ingest", *args],
        env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _uri(key: str = KEY, project: str = "1", base_url: str | None = None) -> str:
    uri = f"posthog://?personal_api_key={key}&project_id={project}"
    return uri + (f"&base_url={base_url}" if base_url else "")


# (id, args builder(tmp, sim) -> args, expected message fragment, expected exit code)
CASES = [
    ("malformed_uri", lambda t, s: ["--source-uri", "posthog:/" + KEY], "malformed source URI", 2),
    (
        "wrong_scheme",
        lambda t, s: ["--source-uri", f"mysql://?api_key={KEY}&project_id=1"],
        "unsupported source scheme 'mysql'",
        2,
    ),
    (
        "missing_project_id",
        lambda t, s: ["--source-uri", f"posthog://?personal_api_key={KEY}"],
        "project_id is required",
        2,
    ),
    (
        "empty_key",
        lambda t, s: ["--source-uri", "posthog://?personal_api_key=&project_id=1"],
        "key is empty",
        2,
    ),
    (
        "missing_key",
        lambda t, s: ["--source-uri", "posthog://?project_id=1"],
        "POSTHOG_PERSONAL_API_KEY",
        2,
    ),
    (
        "invalid_key_401",
        lambda t, s: ["--source-uri", _uri(KEY, s.project_id, s.base_url)],
        "tap-posthog:",
        1,
    ),
    (
        "unknown_table",
        lambda t, s: ["--source-table", "users"],
        "unknown source table 'users'; valid tables: actions, annotations",
        2,
    ),
    (
        "property_definitions_no_suffix",
        lambda t, s: ["--source-table", "property_definitions"],
        "property_definitions:event",
        2,
    ),
    (
        "bad_interval_date",
        lambda t, s: ["--interval-start", "2026-13-45"],
        "invalid --interval-start '2026-13-45'",
        2,
    ),
    (
        "end_before_start",
        lambda t, s: ["--interval-start", "2026-02-01", "--interval-end", "2026-01-01"],
        "must be after --interval-start",
        2,
    ),
    (
        "non_duckdb_dest",
        lambda t, s: ["--dest-uri", f"postgres://u:{KEY}@h/db"],
        "unsupported destination scheme 'postgres'",
        2,
    ),
    (
        "dotted_db_name",
        lambda t, s: ["--dest-uri", f"duckdb:///{t}/a.b.duckdb"],
        "no dot before its extension",
        2,
    ),
    (
        "unreachable_base_url",
        lambda t, s: ["--source-uri", _uri(base_url=f"http://127.0.0.1:{_closed_port()}")],
        "cannot reach http://127.0.0.1:",
        1,
    ),
    (
        "bad_strategy",
        lambda t, s: ["--incremental-strategy", "upsert"],
        "invalid --incremental-strategy",
        2,
    ),
    ("bad_progress", lambda t, s: ["--progress", "fancy"], "invalid --progress", 2),
    ("unknown_flag", lambda t, s: ["--page-size", "10"], "unrecognized arguments", 2),
    (
        "locked_duckdb",
        lambda t, s: ["--source-uri", _uri(s.api_key, s.project_id, s.base_url)],
        "destination database is locked by another process",
        1,
    ),
]
NEEDS_SIM = {"invalid_key_401", "locked_duckdb"}


@pytest.mark.parametrize(("name", "build", "fragment", "code"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(
    name: str, build, fragment: str, code: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    sim = request.getfixturevalue("session_sim") if name in NEEDS_SIM else None
    db = tmp_path / "out" / "db.duckdb"
    args = {
        "--source-uri": _uri(base_url="http://127.0.0.1:9"),
        "--source-table": "events",
        "--dest-uri": f"duckdb:///{db}",
        "--progress": "log",
    }
    extra = build(tmp_path, sim)
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        args[flag] = value
    argv = [x for pair in args.items() for x in pair]
    lock = None
    if name == "locked_duckdb":
        db.parent.mkdir(parents=True)
        lock = duckdb.connect(str(db))
    try:
        proc = run_omniload(argv)
    finally:
        if lock is not None:
            lock.close()
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, output
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("omniload: error:")]
    assert len(errors) == 1, proc.stderr
    assert lines[-1] == errors[0]
    assert fragment in errors[0]
    assert "Traceback" not in output
    assert KEY not in output
    if sim is not None:
        assert sim.api_key not in output or sim.api_key == KEY


def test_debug_adds_details_without_key(tmp_path: Path) -> None:
    port = _closed_port()
    proc = run_omniload(
        ["--source-uri", _uri(base_url=f"http://127.0.0.1:{port}"), "--source-table", "events",
         "--dest-uri", f"duckdb:///{tmp_path / 'x.duckdb'}", "--debug"]
    )  # fmt: skip
    assert proc.returncode == 1
    assert KEY not in proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("omniload: error: cannot reach")


def test_key_from_env_and_flags_from_env(tmp_path: Path) -> None:
    port = _closed_port()
    env = {
        "POSTHOG_PERSONAL_API_KEY": KEY,
        "OMNILOAD_SOURCE_URI": f"posthog://?project_id=1&base_url=http://127.0.0.1:{port}",
        "OMNILOAD_SOURCE_TABLE": "events",
        "OMNILOAD_DEST_URI": f"duckdb:///{tmp_path / 'x.duckdb'}",
        "OMNILOAD_PROGRESS": "json",
    }
    proc = run_omniload([], env)
    # everything parsed from the environment; the run then fails on the closed port
    assert proc.returncode == 1
    assert "cannot reach" in proc.stderr
    assert KEY not in proc.stdout + proc.stderr


def test_no_command_is_usage_error() -> None:
    proc = subprocess.run(
        [OMNILOAD], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("omniload: error: missing command")


def test_help_works() -> None:
    proc = subprocess.run([OMNILOAD, "ingest", "--help"], capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert proc.returncode == 0
    assert "--source-uri" in proc.stdout
