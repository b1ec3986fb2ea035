"""The projects stream reads the configured project, and works with project-scoped keys."""

from __future__ import annotations

from datetime import datetime

from tests.taprun import run_tap

SECRET_FIELDS = {"secret_api_token", "secret_api_token_backup"}


def _config(sim, key):
    return {"personal_api_key": key, "project_id": sim.project_id, "base_url": sim.base_url}


def _same_instant(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return datetime.fromisoformat(a) == datetime.fromisoformat(b)


def test_a_project_scoped_key_reads_projects_and_every_other_stream(sim):
    run = run_tap(
        _config(sim, sim.keys.project_scoped), streams=["projects", "cohorts", "annotations"]
    )
    assert run.returncode == 0, run.stderr[-2000:]
    # The list route (403 for this key) is never asked; the detail route is.
    paths = {r.path for r in sim.requests}
    assert "/api/projects/" not in paths
    assert f"/api/projects/{sim.project_id}/" in paths
    [record] = run.records["projects"]
    [truth] = sim.truth.records("projects")
    expected = {k: v for k, v in truth.items() if k not in SECRET_FIELDS}
    assert set(record) == set(expected) | {"project_id"}
    for key, value in expected.items():
        if key in {"created_at", "updated_at"}:
            assert _same_instant(record[key], value), key
        else:
            assert record[key] == value, key
    assert record["project_id"] == sim.project_id
    assert "phs_" not in repr(record)
    for stream in ("cohorts", "annotations"):
        assert sorted(run.ids(stream)) == sorted(sim.truth.ids(stream))


def test_a_key_for_another_project_names_stream_scope_and_postHog_reason(sim):
    run = run_tap(_config(sim, sim.keys.other_project), streams=["projects"])
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.last_stderr_line == (
        f"tap-posthog: stream projects, project {sim.project_id}: "
        f"no access to project {sim.project_id} (HTTP 403) "
        "(stream projects needs scope 'project:read'): API key does not have access to the "
        f"requested project: ID {sim.project_id}."
    )
    assert sim.keys.other_project not in run.stderr
