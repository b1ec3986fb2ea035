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
        ("429", 429, "application/json", "1", "Expected available in 1 second."),
        ("429:7", 429, "application/json", "7", "Expected available in 7 seconds."),
        ("500", 500, "application/json", None, "A server error occurred."),
        ("502", 502, "text/html", None, "502 Bad Gateway"),
        ("504", 504, "text/html", None, "504 Gateway Time-out"),
        ("503:3", 503, "application/json", "3", "temporarily unavailable"),
        ("query_timeout", 504, "application/json", None, "10-second time limit"),
        ("query_max_execution_time", 504, "application/json", None, "max execution time"),
        ("query_too_slow", 512, "application/json", None, "Estimated query execution time"),
        ("query_memory_limit", 513, "application/json", None, "ran out of memory"),
        ("api_queries_quota", 402, "application/json", None, "free allowance for this month"),
        ("quota_limit", 402, "application/json", None, "reached its billing limit"),
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
        "type": "throttled_error",
        "code": "throttled",
        "attr": None,
        "detail": "Request was throttled. Expected available in 2 seconds.",
    }


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
        json={"query": {"kind": "HogQLQuery", "query": "SELECT count() FROM events"}},
        timeout=10,
    )
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
    """Annotations (default class) 480/minute; a 429 states its wait in body and Retry-After."""
    sim = sim_factory(rate_limits=True, n_events=100)
    session = api_session(sim)
    url = f"{sim.base_url}/api/projects/{sim.project_id}/annotations/?limit=1"
    statuses = [session.get(url, timeout=10).status_code for _ in range(481)]
    assert statuses[:480] == [200] * 480
    assert statuses[480] == 429
    response = session.get(url, timeout=10)
    body = response.json()
    assert body["code"] == "throttled"
    wait = int(body["detail"].split("Expected available in ")[1].split()[0])
    assert response.headers["Retry-After"] == str(wait)
    assert sim.faults.injected["429_rate_limit"] == 2
    assert _get_persons(sim, session).status_code == 200


def _get_persons(sim, session):
    return session.get(f"{sim.base_url}/api/projects/{sim.project_id}/persons/?limit=1", timeout=10)


@pytest.mark.parametrize("rate_limits", [False, True], ids=["rate-limit-off", "rate-limit-on"])
def test_persons_per_user_throttle_is_180_a_minute_whatever_rate_limits_say(
    sim_factory, rate_limits
):
    """posthog/api/person.py: PersonsBreakGlassBurstThrottle (180/minute) is always on."""
    sim = sim_factory(rate_limits=rate_limits, n_events=100)
    session = api_session(sim)
    statuses = [_get_persons(sim, session).status_code for _ in range(181)]
    assert statuses[:180] == [200] * 180
    assert statuses[180] == 429
    assert _cohorts(sim, session).status_code == 200


def test_persons_per_user_throttle_can_be_switched_off(sim_factory):
    sim = sim_factory(persons_user_rate_limits=False, n_events=100)
    session = api_session(sim)
    assert {_get_persons(sim, session).status_code for _ in range(200)} == {200}


def test_legacy_team_query_limit_is_120_an_hour(sim_factory):
    """posthog/rate_limit.py HogQLQueryThrottle: 120/hour for teams on the legacy list."""
    sim = sim_factory(legacy_query_rate_limit=True, n_events=50)
    session = api_session(sim)
    url = f"{sim.base_url}/api/projects/{sim.project_id}/query/"
    body = {"query": {"kind": "HogQLQuery", "query": "SELECT min(timestamp) FROM events"}}
    statuses = [session.post(url, json=body, timeout=30).status_code for _ in range(121)]
    assert statuses[:120] == [200] * 120
    assert statuses[120] == 429
    last = session.post(url, json=body, timeout=30)
    wait = int(last.headers["Retry-After"])
    assert 3000 < wait <= 3600


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
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_one_json_line_and_stops_cleanly(stop_signal):
    process = _start_cli("--seed", "3", "--events", "400")
    try:
        info = json.loads(process.stdout.readline())
        assert set(info) == {"base_url", "api_key", "project_id", "other_project_id"}
        response = requests.get(
            f"{info['base_url']}/api/projects/{info['project_id']}/cohorts/",
            headers={"Authorization": f"Bearer {info['api_key']}"},
            timeout=10,
        )
        assert response.status_code == 200
        process.send_signal(stop_signal)
        assert process.wait(timeout=15) == 0
        assert "Traceback" not in process.stderr.read()
        assert process.stdout.read() == ""
    finally:
        process.kill()


def test_cli_print_truth():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "posthog_sim",
            "--seed",
            "3",
            "--events",
            "50",
            "--print-truth",
            "cohorts",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    ids = json.loads(out.stdout)
    assert ids
    assert all(isinstance(i, int) for i in ids)
