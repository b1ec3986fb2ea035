"""posthog_sim fault injection, rate limits and the command line."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from posthog_sim.ratelimit import RateLimiter
from tests.helpers import api_session

ROOT = Path(__file__).resolve().parents[1]


def _cohorts(sim, session=None):
    session = session or api_session(sim)
    return session.get(f"{sim.base_url}/api/projects/{sim.project_id}/cohorts/", timeout=10)


@pytest.mark.parametrize(
    ("kind", "status", "content_type", "retry_after", "fragment"),
    [
        ("429", 429, "application/json", None, "Expected available in 1 second."),
        ("429:7", 429, "application/json", None, "Expected available in 7 seconds."),
        ("500", 500, "application/json", None, "A server error occurred."),
        ("502", 502, "text/html", None, "502 Bad Gateway"),
        ("504", 504, "text/html", None, "504 Gateway Time-out"),
        ("503:3", 503, "application/json", "3", "temporarily unavailable"),
        ("query_timeout", 504, "application/json", None, "10-second time limit"),
    ],
)
def test_scripted_error_faults(sim, kind, status, content_type, retry_after, fragment):
    sim.faults.script(r"/cohorts/", [kind])
    faulted = _cohorts(sim)
    assert faulted.status_code == status
    assert faulted.headers["Content-Type"] == content_type
    assert faulted.headers.get("Retry-After") == retry_after
    assert fragment in faulted.text
    if content_type == "application/json":
        assert set(faulted.json()) == {"type", "code", "detail", "attr"}
    assert _cohorts(sim).status_code == 200
    assert sim.faults.injected[kind.split(":")[0]] == 1
    assert [r.status for r in sim.requests] == [status, 200]


def test_429_body_matches_posthog(sim):
    sim.faults.script(r"/cohorts/", ["429:2"])
    assert _cohorts(sim).json() == {
        "type": "throttled_error", "code": "throttled", "attr": None,
        "detail": "Request was throttled. Expected available in 2 seconds."}


def test_connection_drops(sim):
    sim.faults.script(r"/cohorts/", ["drop_before_headers", "drop_mid_body"])
    with pytest.raises(requests.ConnectionError):
        _cohorts(sim)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        _cohorts(sim).json()
    assert _cohorts(sim).status_code == 200
    assert sim.faults.injected["drop_before_headers"] == sim.faults.injected["drop_mid_body"] == 1
    assert [r.status for r in sim.requests] == [0, 200, 200]


def test_slow_fault_and_method_filter(sim):
    sim.faults.script(r"/query/", ["slow:0.4"], method="POST")
    assert _cohorts(sim).status_code == 200
    started = time.monotonic()
    response = api_session(sim).post(
        f"{sim.base_url}/api/projects/{sim.project_id}/query/",
        json={"query": {"kind": "HogQLQuery", "query": "SELECT count() FROM events"}}, timeout=10)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.4
    assert sim.faults.pending() == 0
    assert sim.faults.injected["slow"] == 1


def _retrying_walk(sim):
    """A tiny client that retries anything that fails; returns ids and attempts."""
    session = api_session(sim)
    url = f"{sim.base_url}/api/projects/{sim.project_id}/persons/?limit=10"
    ids, attempts = [], 0
    while url:
        for _ in range(10):
            attempts += 1
            try:
                response = session.get(url, timeout=5)
                body = response.json() if response.status_code == 200 else None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, ValueError):
                body = None
            if body is not None:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("retries exhausted")
        ids += [p["id"] for p in body["results"]]
        url = body["next"]
    return ids, attempts


def test_heavy_profile_is_survivable_and_deterministic(sim_factory):
    runs = []
    for _ in range(2):
        sim = sim_factory(fault_profile="heavy", fault_seed=5, n_events=100)
        sim.faults.profile = "heavy"
        ids, attempts = _retrying_walk(sim)
        assert ids == [p["id"] for p in sim.truth.rest_persons()]
        runs.append(([r.fault for r in sim.requests], dict(sim.faults.injected), attempts))
    assert runs[0] == runs[1]
    faults = runs[0][0]
    assert any(faults)
    assert not any(a and b for a, b in itertools.pairwise(faults))


def test_rate_limits_throttle_per_endpoint_class(sim_factory):
    sim = sim_factory(rate_limits=True, n_events=100)
    session = api_session(sim)
    url = f"{sim.base_url}/api/projects/{sim.project_id}/persons/?limit=1"
    statuses = [session.get(url, timeout=10).status_code for _ in range(241)]
    assert statuses[:240] == [200] * 240
    assert statuses[240] == 429
    body = session.get(url, timeout=10).json()
    assert body["code"] == "throttled"
    assert "Expected available in" in body["detail"]
    assert sim.faults.injected["429_rate_limit"] == 2
    assert _cohorts(sim, session).status_code == 200


def test_rate_limiter_windows_and_time_scale():
    clock = [0.0]
    limiter = RateLimiter(time_scale=60, clock=lambda: clock[0])
    assert all(limiter.check("query") is None for _ in range(240))
    assert limiter.check("query") == 60
    assert limiter.check("default") is None
    clock[0] = 1.01
    assert limiter.check("query") is None
    for _ in range(9):
        clock[0] += 1.01
        for _ in range(240):
            limiter.check("query")
    assert limiter.check("query") > 60


def _start_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "posthog_sim", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_one_json_line_and_stops_cleanly(stop_signal):
    process = _start_cli("--seed", "3", "--events", "400")
    try:
        info = json.loads(process.stdout.readline())
        assert set(info) == {"base_url", "api_key", "project_id", "other_project_id"}
        response = requests.get(f"{info['base_url']}/api/projects/{info['project_id']}/cohorts/",
                                headers={"Authorization": f"Bearer {info['api_key']}"}, timeout=10)
        assert response.status_code == 200
        process.send_signal(stop_signal)
        assert process.wait(timeout=15) == 0
        assert "Traceback" not in process.stderr.read()
        assert process.stdout.read() == ""
    finally:
        process.kill()


def test_cli_print_truth():
    out = subprocess.run(
        [sys.executable, "-m", "posthog_sim", "--seed", "3", "--events", "50",
         "--print-truth", "cohorts"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=True)
    ids = json.loads(out.stdout)
    assert ids
    assert all(isinstance(i, int) for i in ids)
