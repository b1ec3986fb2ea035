"""HTTP behaviour against the simulator: auth header, retries, waits, fatal errors."""

from __future__ import annotations

import socket

import pytest
import requests

from tap_posthog.http import RateBudget, stated_wait
from tests.taprun import run_tap


def _config(sim, key=None, **extra):
    return {
        "personal_api_key": key or sim.api_key,
        "project_id": sim.project_id,
        "base_url": sim.base_url,
        **extra,
    }


def test_key_travels_only_in_the_authorization_header(sim):
    run = run_tap(_config(sim), streams=["cohorts", "events"])
    assert run.returncode == 0
    assert sim.requests
    for request in sim.requests:
        assert request.headers.get("Authorization") == f"Bearer {sim.api_key}"
        assert sim.api_key not in request.path
        assert sim.api_key not in repr(request.query)
    assert sim.api_key not in run.stdout
    assert sim.api_key not in run.stderr


def test_429_waits_for_the_time_stated_in_the_body(sim):
    sim.faults.script(r"/cohorts/", ["429:2"])
    run = run_tap(_config(sim), streams=["cohorts"])
    assert run.returncode == 0, run.stderr[-2000:]
    cohort_requests = [r for r in sim.requests if "/cohorts/" in r.path]
    assert [r.status for r in cohort_requests][:2] == [429, 200]
    gap = cohort_requests[1].time - cohort_requests[0].time
    assert gap >= 2.0, f"retried after {gap:.2f}s, body asked for 2s"
    assert set(run.ids("cohorts")) == set(sim.truth.ids("cohorts"))


@pytest.mark.parametrize(
    "faults",
    [
        ["500", "502", "503:1", "504"],
        ["drop_before_headers", "drop_mid_body"],
    ],
    ids=["server-errors", "dropped-connections"],
)
def test_retriable_failures_are_retried_and_data_stays_exact(sim, faults):
    sim.faults.script(r"/annotations/", list(faults))
    sim.faults.script(r"/query/", list(faults))
    run = run_tap(_config(sim), streams=["annotations", "events"])
    assert run.returncode == 0, run.stderr[-2000:]
    for stream in ("annotations", "events"):
        ids = run.ids(stream)
        assert len(ids) == len(set(ids))
        assert set(ids) == set(sim.truth.ids(stream))
    assert sum(sim.faults.injected.values()) >= 2 * len(faults)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("invalid_key", "invalid personal API key (HTTP 401)"),
        ("missing_scope", "missing scope 'query:read' (HTTP 403)"),
        ("other_project", "no access to project"),
        ("forbidden_project", "no access to project"),
        ("unknown_project", "not found (HTTP 404)"),
    ],
)
def test_fatal_errors_give_one_line_and_exit_1(sim, case, expected):
    config = _config(sim)
    if case == "invalid_key":
        config["personal_api_key"] = "phx_" + "x" * 40
    elif case == "missing_scope":
        config["personal_api_key"] = sim.keys.missing_scope
    elif case == "other_project":
        config["personal_api_key"] = sim.keys.other_project
    elif case == "forbidden_project":
        config["project_id"] = sim.forbidden_project_id
    else:
        config["project_id"] = 999999
    run = run_tap(config, streams=["persons"])
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    if case == "invalid_key":
        prefix = "tap-posthog: "
    elif case == "unknown_project":
        prefix = "tap-posthog: stream persons: "
    else:  # a 403 names the stream and the project that refused it
        prefix = f"tap-posthog: stream persons, project {config['project_id']}: "
    assert run.last_stderr_line.startswith(prefix)
    assert expected in run.last_stderr_line
    assert config["personal_api_key"] not in run.stderr
    if case in {"other_project", "forbidden_project"}:
        assert "stream persons needs scope 'person:read'" in run.last_stderr_line
    if case in {"forbidden_project", "unknown_project"}:
        assert str(config["project_id"]) in run.last_stderr_line


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"base_url": "us.posthog.com"}, "base_url must be an http(s) URL"),
        ({"project_id": "abc"}, "project_id"),
        ({"personal_api_key": ""}, "personal_api_key"),
    ],
)
def test_bad_config_gives_one_line(sim, override, expected):
    run = run_tap({**_config(sim), **override}, streams=["cohorts"])
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.last_stderr_line.startswith("tap-posthog: invalid config")
    assert expected in run.last_stderr_line


def test_unreachable_host_gives_up_with_one_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {
        "personal_api_key": "phx_test",
        "project_id": 1,
        "base_url": f"http://127.0.0.1:{port}",
    }
    run = run_tap(config, streams=["cohorts"], timeout=90)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "cannot reach PostHog" in run.last_stderr_line
    assert "connection refused" in run.last_stderr_line


def _response(status, text="", headers=None):
    response = requests.Response()
    response.status_code = status
    response._content = text.encode()
    response.headers.update(headers or {})
    return response


def test_stated_wait_parsing():
    body = '{"detail":"Request was throttled. Expected available in 37 seconds."}'
    assert stated_wait(_response(429, body)) == 37
    assert stated_wait(_response(503, "{}", {"Retry-After": "5"})) == 5
    assert stated_wait(_response(429, "{}")) is None
    assert stated_wait(_response(429, "{}", {"Retry-After": "7"})) == 7
    assert stated_wait(_response(429, "{}", {"Retry-After": "soon"})) is None


def test_rate_budget_paces_to_the_per_minute_limit():
    clock = [0.0]
    budget = RateBudget(
        {"query": (10, 1000)},
        share=1.0,
        clock=lambda: clock[0],
        sleep=lambda s: clock.__setitem__(0, clock[0] + s),
    )
    for _ in range(25):
        budget.acquire("query")
    # 10 a minute: the 11th waits for the first minute to pass, the 21st for the second.
    assert 120 <= clock[0] < 121
