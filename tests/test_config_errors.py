"""Bad settings and bad command-line files: one line naming the cause, no traceback, no secret."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.taprun import TAP, catalog_for, run_tap


def _config(sim, **extra):
    return {
        "personal_api_key": sim.api_key,
        "project_id": sim.project_id,
        "base_url": sim.base_url,
        **extra,
    }


def _last_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


@pytest.mark.parametrize("suffix", ["\r\n", "\n", " ", "\t"], ids=["crlf", "lf", "space", "tab"])
def test_a_key_with_header_breaking_characters_is_a_config_error_at_once(sim, suffix):
    key = sim.api_key + suffix
    run = run_tap(_config(sim, personal_api_key=key), streams=["cohorts"])
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.last_stderr_line.startswith("tap-posthog: invalid config: personal_api_key contains")
    assert "cannot be sent in an HTTP header" in run.last_stderr_line
    assert sim.api_key not in run.stderr
    assert not sim.requests, "nothing is sent with a broken key"


@pytest.mark.parametrize(
    "base_url",
    [
        "http://admin:hunter2secret@127.0.0.1:1",
        "admin:hunter2secret@127.0.0.1",
        "https://:hunter2secret@h",
    ],
)
def test_credentials_in_base_url_are_refused_and_never_printed(sim, base_url):
    run = run_tap(_config(sim, base_url=base_url), streams=["cohorts"])
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "base_url must not contain credentials" in run.last_stderr_line
    assert "hunter2secret" not in run.stderr
    assert "hunter2secret" not in run.stdout


def test_a_secret_in_a_wrong_typed_key_is_not_echoed(sim):
    run = run_tap(_config(sim, personal_api_key=918273645), streams=["cohorts"])
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "personal_api_key" in run.last_stderr_line
    assert "918273645" not in run.stderr


def test_unknown_settings_are_warned_about_with_the_closest_name(sim):
    run = run_tap(_config(sim, start_dat="2026-01-01", page_sise=50), streams=["cohorts"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert "unknown setting 'start_dat' is ignored; did you mean 'start_date'?" in run.stderr
    assert "unknown setting 'page_sise' is ignored; did you mean 'page_size'?" in run.stderr
    assert sorted(run.ids("cohorts")) == sorted(sim.truth.ids("cohorts"))


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        (
            "start_date",
            "0999-01-01T00:00:00Z",
            "start_date must fall between 1900-01-01 and 2299-12-31",
        ),
        ("end_date", "9999-12-31T23:00:00-05:00", "end_date"),
        ("start_date", "2026-01-01T00:00:00+25:00", "start_date"),
        ("start_date", "12026-01-01T00:00:00Z", "start_date"),
    ],
)
def test_dates_out_of_range_or_with_odd_offsets_are_clear_errors(sim, setting, value, expected):
    run = run_tap(_config(sim, **{setting: value}), streams=["events"])
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.last_stderr_line.startswith("tap-posthog: invalid config: ")
    assert expected in run.last_stderr_line
    assert not sim.requests


def test_a_date_before_1970_works(sim):
    run = run_tap(_config(sim, start_date="1969-07-20T20:17:40Z"), streams=["projects"])
    assert run.returncode == 0, run.stderr[-2000:]


def _run_with_files(tmp_path: Path, sim, *, config=None, state=None, catalog=None):
    """Run the tap with raw file contents (None: a valid file; False: no such option)."""
    good_config = _config(sim)
    args = [TAP]
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(good_config) if config is None else config)
    args += ["--config", str(config_path)]
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(
        json.dumps(catalog_for(good_config, ["cohorts"])) if catalog is None else catalog
    )
    args += ["--catalog", str(catalog_path)]
    if state is not None:
        state_path = tmp_path / "state.json"
        state_path.write_text(state)
        args += ["--state", str(state_path)]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


_BAD_CONTENTS = [
    ("", "is empty"),
    ("{not json", "is not valid JSON at line 1, column 2"),
    ("[1, 2]", "must hold a JSON object, not an array"),
    ('"text"', "must hold a JSON object, not a string"),
]


@pytest.mark.parametrize(("content", "problem"), _BAD_CONTENTS)
@pytest.mark.parametrize("which", ["config", "state", "catalog"])
def test_bad_command_line_files_are_one_line_naming_file_and_problem(
    tmp_path, sim, which, content, problem
):
    result = _run_with_files(tmp_path, sim, **{which: content})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    line = _last_line(result.stderr)
    path = tmp_path / f"{which}.json"
    assert line == f"tap-posthog: {which} file '{path}' {problem}" or (
        line.startswith(f"tap-posthog: {which} file '{path}' {problem}")
    ), line
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("which", "content", "problem"),
    [
        ("state", '{"bookmarks": []}', "'bookmarks' must be a JSON object"),
        ("state", '{"bookmarks": {"events": 5}}', "the bookmark of stream 'events' must be"),
        ("catalog", '{"streams": {}}', "must have a 'streams' array"),
        ("catalog", '{"streams": [{"schema": {}}]}', "streams[0] must be an object with a"),
        ("catalog", '{"streams": [{"tap_stream_id": "x", "metadata": {}}]}', "'metadata' of"),
    ],
)
def test_wrong_shapes_inside_state_and_catalog_are_named(tmp_path, sim, which, content, problem):
    result = _run_with_files(tmp_path, sim, **{which: content})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    line = _last_line(result.stderr)
    assert line.startswith(f"tap-posthog: {which} file '{tmp_path / (which + '.json')}'"), line
    assert problem in line


def test_a_missing_config_file_is_named(tmp_path):
    missing = tmp_path / "nope.json"
    result = subprocess.run(
        [TAP, "--config", str(missing)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert _last_line(result.stderr) == f"tap-posthog: config file '{missing}' was not found"
