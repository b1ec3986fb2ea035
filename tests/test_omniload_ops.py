"""Operations: the destination lock and the private temp folder with real processes, --help,
--lock-timeout, the table map against the tap's own catalog, and the target-duckdb pin."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from omniload import catalog, lock, workdir
from omniload.errors import RunError, UsageError
from omniload.ingest import DEFAULT_LOCK_TIMEOUT, Options, make_plan
from omniload.tables import TABLES, table_name
from target_duckdb_guard.patch import PATCHED_VERSION

OMNILOAD = str(Path(sys.executable).with_name("omniload"))
TAP = str(Path(sys.executable).with_name("tap-posthog"))

HOLDER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from omniload.lock import DestinationLock\n"
    "lk = DestinationLock(Path(sys.argv[1]), 'main.events')\n"
    "lk.acquire(0)\n"
    "print('held', flush=True)\n"
    "sys.stdin.readline()\n"
    "lk.release()\n"
    "print('released', flush=True)\n"
    "sys.stdin.readline()\n"
)


def _holder(db: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline() == "held\n"
    return proc


def test_lock_held_by_another_process_fails_at_once_naming_table_and_file(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    holder = _holder(db)
    try:
        with pytest.raises(RunError) as err:
            lock.DestinationLock(db, "main.persons").acquire(0)
    finally:
        holder.kill()
        holder.wait()
    message = err.value.message
    assert message.startswith(f"main.persons in {db} is busy: omniload pid {holder.pid} loading")
    assert "main.events" in message
    assert "did not wait, see --lock-timeout" in message


def test_lock_waits_until_the_holder_releases(tmp_path: Path) -> None:
    """The holder releases when told, and it is told only once the waiter reported waiting."""
    db = tmp_path / "d.duckdb"
    holder = _holder(db)
    assert holder.stdin is not None
    notes: list[str] = []

    def on_wait(note: str) -> None:
        notes.append(note)
        holder.stdin.write("\n")  # type: ignore[union-attr]
        holder.stdin.flush()  # type: ignore[union-attr]

    mine = lock.DestinationLock(db, "main.events")
    try:
        mine.acquire(60, on_wait=on_wait)
        info = json.loads(lock.lock_path(db).read_text())
    finally:
        mine.release()
        holder.kill()
        holder.wait()
    assert len(notes) == 1
    assert notes[0].startswith("waiting up to 60 s for omniload pid")
    assert info["pid"] == os.getpid()
    assert info["table"] == "main.events"


def test_a_killed_holder_never_blocks(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    holder = _holder(db)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    mine = lock.DestinationLock(db, "main.events")
    mine.acquire(0)
    mine.release()


def test_lock_wait_is_bounded(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    holder = _holder(db)
    try:
        with pytest.raises(RunError, match=r"waited 0.3 s, see --lock-timeout"):
            lock.DestinationLock(db, "main.events").acquire(0.3)
    finally:
        holder.kill()
        holder.wait()


# -- private temp folder ------------------------------------------------------------------------

RUNNER = (
    "import sys, tempfile\n"
    "tempfile.tempdir = sys.argv[1]\n"
    "from omniload.workdir import RunDir\n"
    "d = RunDir()\n"
    "(d.path / 'tmp_0.csv').write_text('x')\n"
    "print(d.path, flush=True)\n"
    "sys.stdin.readline()\n"
)


def test_sweep_removes_dead_runs_and_keeps_live_ones(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", RUNNER, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    folders = [Path(p.stdout.readline().strip()) for p in procs]  # type: ignore[union-attr]
    root = workdir.private_root()
    assert all(f.parent == root for f in folders)
    assert oct(root.stat().st_mode & 0o777) == "0o700"
    procs[0].send_signal(signal.SIGKILL)
    procs[0].wait()
    try:
        with workdir.RunDir() as mine:
            assert not folders[0].exists()  # dead run: swept
            assert (folders[1] / "tmp_0.csv").exists()  # live run: kept
            assert mine.path.parent == root
        assert not mine.path.exists()
    finally:
        procs[1].kill()
        procs[1].wait()


def test_private_root_of_another_mode_is_tightened(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    root = tmp_path / f"omniload-{os.getuid()}"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    assert workdir.private_root() == root
    assert root.stat().st_mode & 0o777 == 0o700


# -- help and flags -----------------------------------------------------------------------------


def test_help_marks_required_flags_groups_them_and_shows_examples() -> None:
    proc = subprocess.run([OMNILOAD, "ingest", "--help"], capture_output=True, text=True,
                          check=False, timeout=60)  # fmt: skip
    assert proc.returncode == 0
    text = proc.stdout
    assert text.startswith(
        "usage: omniload ingest --source-uri URI --source-table TABLE --dest-uri URI [options]"
    )
    for group in ("required:", "destination:", "what to load:", "running:", "examples:"):
        assert f"\n{group}\n" in text, group
    required = text.split("required:\n", 1)[1].split("\n\n", 1)[0]
    for flag in ("--source-uri", "--source-table", "--dest-uri"):
        assert flag in required
        assert "(required)" in required.split(flag, 1)[1].split("\n")[0]
    assert "omniload ingest --source-uri 'posthog://?project_id=12345'" in text
    listed = " ".join(text.split("tables: ", 1)[1].split("\n\n", 1)[0].split())
    assert listed == ", ".join(TABLES)
    assert "143 terminated (SIGTERM)" in text
    top = subprocess.run([OMNILOAD, "--help"], capture_output=True, text=True, check=False,
                         timeout=60)  # fmt: skip
    assert top.returncode == 0
    assert "ingest" in top.stdout
    assert "examples:" in top.stdout


def _opts(**kw: object) -> Options:
    base = {"source_uri": "posthog://?personal_api_key=k&project_id=1", "source_table": "events",
            "dest_uri": "duckdb:///x.duckdb"}  # fmt: skip
    return Options(**{**base, **kw})  # type: ignore[arg-type]


def test_lock_timeout_parsing() -> None:
    assert make_plan(_opts()).lock_timeout == DEFAULT_LOCK_TIMEOUT
    assert make_plan(_opts(lock_timeout="0")).lock_timeout == 0
    assert make_plan(_opts(lock_timeout="2.5")).lock_timeout == 2.5
    for bad in ("-1", "soon", "1e9"):
        with pytest.raises(UsageError, match="--lock-timeout"):
            make_plan(_opts(lock_timeout=bad))


def test_lock_timeout_from_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNILOAD_", "POSTHOG_"))}
    env["OMNILOAD_LOCK_TIMEOUT"] = "later"
    args = [OMNILOAD, "ingest", "--source-uri", "posthog://?personal_api_key=k&project_id=1",
            "--source-table", "events", "--dest-uri", f"duckdb:///{tmp_path}/x.duckdb"]  # fmt: skip
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "omniload: error: invalid --lock-timeout 'later': seconds from 0 to 86400"
    )


# -- tables from the tap ------------------------------------------------------------------------


def test_table_map_matches_the_taps_catalog(tmp_path: Path) -> None:
    """Every stream of ``tap-posthog --discover`` is a table with its key and replication key."""
    catalog = _discover(tmp_path)
    seen = {}
    for entry in catalog["streams"]:
        top = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        seen[table_name(entry["tap_stream_id"])] = (
            entry["tap_stream_id"],
            tuple(entry.get("key_properties") or top.get("table-key-properties") or ()),
            entry.get("replication_key") or top.get("replication-key"),
        )
    assert set(seen) == set(TABLES)
    for name, spec in TABLES.items():
        assert (spec.stream, spec.primary_key, spec.incremental_key) == seen[name], name
    assert table_name("event_property_definitions") == "property_definitions:event"
    assert {n for n, s in TABLES.items() if s.strategy == "append"} == {"events"}


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty catalog cache for this test (and no catalog remembered in this process)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(catalog.CACHE_ENV, str(folder))
    catalog.tap_catalog.cache_clear()
    yield folder
    catalog.tap_catalog.cache_clear()


def _discover(tmp_path: Path) -> dict:
    """What ``tap-posthog --discover`` prints."""
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"personal_api_key": "x", "project_id": "1"}))
    proc = subprocess.run([TAP, "--config", str(config), "--discover"], capture_output=True,
                          text=True, check=True, timeout=120)  # fmt: skip
    return json.loads(proc.stdout)


def _discovered(tmp_path: Path, stream: str) -> dict:
    """``--discover``'s catalog with only ``stream`` selected."""
    discovered = _discover(tmp_path)
    for entry in discovered["streams"]:
        top = next(m for m in entry["metadata"] if m["breadcrumb"] == [])
        top["metadata"]["selected"] = entry["tap_stream_id"] == stream
    return discovered


@pytest.mark.parametrize("stream", ["events", "persons", "event_property_definitions"])
def test_the_in_process_catalog_is_what_discover_prints_with_one_stream_selected(
    tmp_path: Path, fresh_cache: Path, stream: str
) -> None:
    """omniload builds the catalog in its own process; it equals ``tap-posthog --discover``."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    assert catalog.catalog_for(stream) == _discovered(tmp_path, stream)
    # The SDK's constructor installs its own handlers; omniload's stay in place.
    assert {s: signal.getsignal(s) for s in handlers} == handlers
    with pytest.raises(RunError, match="no stream named 'nope'"):
        catalog.catalog_for("nope")


def test_the_catalog_is_cached_per_installed_tap(
    tmp_path: Path, fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []
    real_build = catalog.build_catalog

    def counting_build() -> dict:
        built.append(1)
        return real_build()

    monkeypatch.setattr(catalog, "build_catalog", counting_build)
    first = catalog.tap_catalog()
    files = list(fresh_cache.iterdir())
    assert len(files) == 1
    assert catalog.fingerprint() in files[0].name
    assert json.loads(files[0].read_text()) == first
    # Another process (nothing remembered) reads the file instead of building it again.
    catalog.tap_catalog.cache_clear()
    assert catalog.tap_catalog() == first
    assert len(built) == 1
    # A damaged file is built again and replaced; so is the catalog of another tap build.
    files[0].write_text('{"streams": [')
    catalog.tap_catalog.cache_clear()
    assert catalog.tap_catalog() == first
    assert len(built) == 2
    monkeypatch.setattr(catalog, "fingerprint", lambda: "another-build")
    catalog.tap_catalog.cache_clear()
    assert catalog.tap_catalog() == first
    assert len(built) == 3
    assert len(list(fresh_cache.glob("tap-posthog-catalog-*.json"))) == 2
    assert catalog.catalog_for("events") == _discovered(tmp_path, "events")


def test_an_unwritable_cache_folder_only_means_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(catalog.CACHE_ENV, str(blocker / "cache"))
    catalog.tap_catalog.cache_clear()
    try:
        assert catalog.catalog_for("events") == _discovered(tmp_path, "events")
    finally:
        catalog.tap_catalog.cache_clear()
    assert blocker.read_text() == "not a folder"


def test_target_duckdb_is_pinned_to_the_version_the_guard_patches() -> None:
    """The installed package requires exactly the target-duckdb the guard is proven on."""
    requires = [r.replace(" ", "") for r in metadata.requires("tap-posthog") or []]
    pins = [r for r in requires if r.lower().startswith("target-duckdb")]
    assert pins == [f"target-duckdb=={PATCHED_VERSION}"]
    assert metadata.version("target-duckdb") == PATCHED_VERSION
