"""omniload.pipeline with a scripted fake tap: relay, state, key handling, crash and kill paths."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from omniload import pipeline
from omniload.errors import RunError

KEY = "phx_pipeline_secret"

FAKE_TAP = textwrap.dedent(
    """
    import json, os, sys, time
    mode = os.environ.get("FAKE_MODE", "ok")
    n = int(os.environ.get("FAKE_RECORDS", "10"))
    pids = os.environ.get("FAKE_PIDS")
    if pids:
        with open(pids, "a") as fh:
            fh.write(f"{os.getpid()}\\n")
    assert os.environ.get("TAP_POSTHOG_PERSONAL_API_KEY") == os.environ["FAKE_EXPECT_KEY"]
    assert "POSTHOG_PERSONAL_API_KEY" not in os.environ
    cat = json.load(open(sys.argv[sys.argv.index("--catalog") + 1]))
    chosen = [s["stream"] for s in cat["streams"] if s["metadata"][0]["metadata"]["selected"]]
    assert chosen == ["events"], chosen
    out = sys.stdout
    out.write(json.dumps({"type": "SCHEMA", "stream": "events", "key_properties": ["id"],
        "schema": {"properties": {"id": {"type": "string"}, "n": {"type": ["null", "integer"]}}}},
        separators=(",", ":")) + "\\n")
    for i in range(n):
        rec = {"type": "RECORD", "stream": "events", "record": {"id": f"e{i:06d}", "n": i}}
        out.write(json.dumps(rec, separators=(",", ":")) + "\\n")
        if i % 500 == 499:
            out.write(json.dumps({"type": "STATE", "value": {"at": i}}) + "\\n")
    out.flush()
    if mode == "crash":
        sys.stderr.write("Traceback...\\ntap-posthog: PostHog rejected the key (401)\\n")
        sys.exit(1)
    if mode == "hang":
        while True:
            out.write(json.dumps({"type": "RECORD", "stream": "events",
                                  "record": {"id": "x", "n": 1}}) + "\\n")
            out.flush()
            time.sleep(0.01)
    out.write(json.dumps({"type": "STATE", "value": {"done": n}}, separators=(",", ":")) + "\\n")
    """
)

FAKE_TARGET = textwrap.dedent(
    """
    import os, sys
    with open(os.environ["FAKE_PIDS"], "a") as fh:
        fh.write(f"{os.getpid()}\\n")
    if os.environ["FAKE_TARGET"] == "drain":
        while sys.stdin.buffer.read(65536):
            pass
        sys.exit(0)
    sys.stdin.buffer.read(1000)
    sys.stderr.write("RuntimeError: disk on fire\\n")
    sys.exit(3)
    """
)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    tap = tmp_path / "fake_tap.py"
    tap.write_text(FAKE_TAP)
    target = tmp_path / "fake_target.py"
    target.write_text(FAKE_TARGET)
    pids = tmp_path / "pids.txt"
    monkeypatch.setenv("FAKE_EXPECT_KEY", KEY)
    monkeypatch.setenv("FAKE_PIDS", str(pids))
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", "must-not-leak-into-children")
    real = pipeline.find_executable

    def find(script: str, module: str) -> list[str]:
        if script == "tap-posthog":
            return [sys.executable, str(tap)]
        if script == "target-duckdb-guarded" and os.environ.get("FAKE_TARGET"):
            return [sys.executable, str(target)]
        return real(script, module)

    monkeypatch.setattr(pipeline, "find_executable", find)
    return {"tap": tap, "target": target, "pids": pids}


#: A catalog of two streams with events selected, as ``omniload.catalog`` writes one.
CATALOG = {
    "streams": [
        {"tap_stream_id": s, "stream": s, "schema": {}, "metadata": [
            {"breadcrumb": [], "metadata": {"selected": s == "events"}}]}
        for s in ("events", "persons")
    ]
}  # fmt: skip


def _spec(db: Path) -> pipeline.PairSpec:
    return pipeline.PairSpec(
        api_key=KEY,
        stream="events",
        catalog=CATALOG,
        tap_config={"project_id": "1", "base_url": "http://127.0.0.1:1"},
        target_config={
            "path": str(db),
            "default_target_schema": "stage",
            "batch_size_rows": 1000,
            "data_flattening_max_level": 0,
            "primary_key_required": False,
        },
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); check its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _no_key_in(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix not in (".duckdb", ".wal"):
            assert KEY not in path.read_text(errors="replace"), path


def test_relay_loads_every_record_and_keeps_tap_state(
    fakes: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RECORDS", "2500")
    work = tmp_path / "work"
    work.mkdir()
    db = tmp_path / "d.duckdb"
    result = pipeline.run_pair(_spec(db), work)
    assert result.records == 2500
    assert result.state == {"done": 2500}
    with duckdb.connect(str(db), read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT id FROM stage.events").fetchall()]
    assert sorted(ids) == [f"e{i:06d}" for i in range(2500)]
    _no_key_in(work)


def test_target_stages_every_record_without_a_key(
    fakes: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RECORDS", "5")
    db = tmp_path / "d.duckdb"
    spec = _spec(db)
    spec.primary_key = ("n",)
    pipeline.run_pair(spec, tmp_path)
    with duckdb.connect(str(db), read_only=True) as con:
        pk = con.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() "
            "WHERE table_name = 'events' AND constraint_type = 'PRIMARY KEY'"
        ).fetchone()
        staged = con.execute("SELECT count(*) FROM stage.events").fetchone()
    assert pk is None  # no key: the target cannot merge rows away; omniload applies the key
    assert staged == (5,)
    spec.primary_key = ("missing",)
    with pytest.raises(RunError, match="not a column"):
        pipeline.run_pair(spec, tmp_path)


def test_tap_crash_is_one_line_and_stops_target(
    fakes: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "crash")
    monkeypatch.setenv("FAKE_RECORDS", "1200")
    with pytest.raises(RunError) as info:
        pipeline.run_pair(_spec(tmp_path / "d.duckdb"), tmp_path)
    assert info.value.message == "tap-posthog: PostHog rejected the key (401)"
    assert "Traceback" in (info.value.detail or "")


def test_target_crash_kills_tap(
    fakes: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "hang")
    monkeypatch.setenv("FAKE_TARGET", "1")
    started = time.monotonic()
    with pytest.raises(RunError, match=r"target-duckdb-guarded failed \(exit 3\): RuntimeError"):
        pipeline.run_pair(_spec(tmp_path / "d.duckdb"), tmp_path)
    assert time.monotonic() - started < 20
    pids = [int(p) for p in fakes["pids"].read_text().split()]
    assert len(pids) >= 2  # tap, target
    assert not any(_alive(pid) for pid in pids)


DRIVER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    import test_omniload_pipeline as t
    from omniload import pipeline, signals
    from omniload.errors import OmniloadError
    from pathlib import Path
    signals.install()
    real = pipeline.find_executable
    fakes = {{"tap-posthog": {tap!r}, "target-duckdb-guarded": {target!r}}}
    pipeline.find_executable = lambda s, m: [sys.executable, fakes[s]]
    try:
        pipeline.run_pair(t._spec(Path({db!r})), Path({work!r}))
    except OmniloadError as exc:
        print("ERROR", exc, flush=True)
        sys.exit(exc.exit_code)
    """
)


def test_sigterm_stops_both_children(fakes: dict[str, Path], tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    script = DRIVER.format(
        tests=str(Path(__file__).parent), tap=str(fakes["tap"]), target=str(fakes["target"]),
        db=str(tmp_path / "d.duckdb"), work=str(work),
    )  # fmt: skip
    env = {**os.environ, "FAKE_MODE": "hang", "FAKE_TARGET": "drain"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if fakes["pids"].exists() and len(fakes["pids"].read_text().split()) >= 2:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert "ERROR interrupted by SIGTERM" in out
    pids = [int(p) for p in fakes["pids"].read_text().split()]
    assert len(pids) == 2  # target, tap
    assert not any(_alive(pid) for pid in pids)
