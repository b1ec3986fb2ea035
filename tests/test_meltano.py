"""`meltano run tap-posthog target-duckdb` against the simulator, from the repo's meltano.yml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from posthog_sim import SimConfig, Simulator
from tests.rows import assert_table_matches

ROOT = Path(__file__).resolve().parents[1]
MELTANO_VENV = ROOT / ".venv-meltano"
MELTANO_VERSION = "4.4.1"

TABLES = {
    "projects": "projects",
    "persons": "persons",
    "person_distinct_ids": "person_distinct_ids",
    "feature_flags": "feature_flags",
    "events": "events",
    "cohorts": "cohorts",
    "event_definitions": "event_definitions",
    "event_property_definitions": "event_property_definitions",
    "person_property_definitions": "person_property_definitions",
    "session_property_definitions": "session_property_definitions",
    "annotations": "annotations",
    "insights": "insights",
    "dashboards": "dashboards",
    "actions": "actions",
    "experiments": "experiments",
    "surveys": "surveys",
    "group_types": "group_types",
    "groups": "groups",
    "session_recordings": "session_recordings",
    "cohort_people": "cohort_people",
}


def _meltano() -> Path:
    """Meltano lives in its own venv (its dependencies are not the tap's)."""
    exe = MELTANO_VENV / "bin" / "meltano"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MELTANO_VENV)], check=True)
        subprocess.run(
            [str(MELTANO_VENV / "bin" / "pip"), "install", "-q", f"meltano=={MELTANO_VERSION}"],
            check=True,
        )
    return exe


@pytest.fixture
def clean_clone(tmp_path):
    """A copy of the tracked project files (what a fresh clone holds)."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    clone = tmp_path / "clone"
    for name in files:
        source = ROOT / name
        if source.is_file():
            target = clone / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return clone


@pytest.mark.slow
def test_meltano_run_loads_every_stream_exactly(clean_clone):
    meltano = _meltano()
    with Simulator(SimConfig(seed=5, n_events=2500, tie_groups=((700, 1),))) as sim:
        db = clean_clone / "output" / "warehouse.duckdb"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_"))},
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_POSTHOG_PERSONAL_API_KEY": sim.api_key,
            "TAP_POSTHOG_PROJECT_ID": str(sim.project_id),
            "TAP_POSTHOG_BASE_URL": sim.base_url,
            "TAP_POSTHOG_EVENTS_PAGE_SIZE": "1000",
            "TARGET_DUCKDB_BATCH_SIZE_ROWS": "1000",
        }
        assert not (clean_clone / "output").exists()  # a fresh clone has no output/ folder
        install = subprocess.run(
            [str(meltano), "install"],
            cwd=clean_clone,
            env=env,
            capture_output=True,
            text=True,
        )
        assert install.returncode == 0, install.stderr[-3000:]

        def run() -> None:
            result = subprocess.run(
                [str(meltano), "run", "tap-posthog", "target-duckdb"],
                cwd=clean_clone,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert result.returncode == 0, result.stderr[-4000:]
            assert sim.api_key not in result.stdout + result.stderr

        run()
        for stream, table in TABLES.items():  # every column of every row
            assert_table_matches(db, f"posthog.{table}", sim, stream)
        # target-duckdb 0.8.0 ignores ACTIVATE_VERSION (persist_lines only logs it) and its
        # hard_delete needs records carrying _sdc_deleted_at, which PostHog's lists never
        # contain: a flag deleted in PostHog stays in the Meltano copy (README, "Deletions").
        gone = sim.truth.ids("feature_flags")[0]
        sim.data.delete_row("feature_flags", gone)
        env["TAP_POSTHOG_EMIT_ACTIVATE_VERSION_MESSAGES"] = "true"
        run()
        with duckdb.connect(str(db), read_only=True) as con:
            ids = {r[0] for r in con.execute("SELECT id FROM posthog.feature_flags").fetchall()}
        assert gone in ids
