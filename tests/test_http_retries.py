"""Retries through the SDK's backoff hooks: what counts as an attempt, the bound, the log lines."""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tap_posthog.http import RetryPolicy
from tests.taprun import run_tap


def _config(sim, **extra):
    return {
        "personal_api_key": sim.api_key,
        "project_id": sim.project_id,
        "base_url": sim.base_url,
        **extra,
    }


@contextmanager
def _silent_server():
    """Accepts TCP connections and never sends a byte; yields (base_url, accepted counter)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        listener.close()


def test_a_server_that_never_answers_fails_within_the_documented_bound():
    attempts, timeout = 3, 1.0
    with _silent_server() as (base_url, accepted):
        config = {
            "personal_api_key": "phx_test",
            "project_id": 1,
            "base_url": base_url,
            "request_timeout": timeout,
            "max_attempts": attempts,
        }
        started = time.monotonic()
        run = run_tap(config, streams=["cohorts"], timeout=120)
        elapsed = time.monotonic() - started
        connections = len(accepted)
    # README: at most max_attempts x request_timeout plus the waits between attempts
    # (1, 2, 4, 8, 8, ... s), plus the tap's start-up.
    bound = attempts * timeout + RetryPolicy(max_attempts=attempts).worst_transport_waits()
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert connections == attempts, "each read timeout is one attempt"
    assert elapsed < bound + 15
    assert elapsed >= bound
    line = run.last_stderr_line
    assert line.startswith("tap-posthog: cannot reach PostHog at " + base_url)
    assert "read timed out (no answer within request_timeout = 1 s)" in line
    assert f"gave up after {attempts} attempts" in line
    retries = [text for text in run.stderr.splitlines() if "then retry" in text]
    assert len(retries) == attempts - 1
    assert all(
        "read timed out" in text and "GET /api/projects/1/cohorts/" in text for text in retries
    )


def test_dropped_connections_count_against_max_attempts(sim):
    sim.faults.script(r"/cohorts/", ["drop_before_headers"] * 3)
    run = run_tap(_config(sim, max_attempts=3), streams=["cohorts"])
    assert run.returncode == 1
    assert "cannot reach PostHog" in run.last_stderr_line
    assert "gave up after 3 attempts" in run.last_stderr_line
    assert len(sim.requests.matching("/cohorts/")) == 3


def test_429_wait_and_limit_are_logged_and_retry_after_is_sent(sim):
    sim.faults.script(r"/cohorts/", ["429:2"])
    run = run_tap(_config(sim), streams=["cohorts"])
    assert run.returncode == 0, run.stderr[-2000:]
    first, second = sim.requests.matching("/cohorts/")[:2]
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 2.0
    lines = [line for line in run.stderr.splitlines() if "rate limited by PostHog" in line]
    assert len(lines) == 1
    assert "HTTP 429" in lines[0]
    assert "Expected available in 2 seconds" in lines[0]
    assert "waiting 2.0 s" in lines[0]
    assert "limit class crud: 384/min, 3840/h (80 % of 480/min, 4800/h)" in lines[0]
    assert sorted(r["id"] for r in run.records["cohorts"]) == sorted(sim.truth.ids("cohorts"))


def test_every_5xx_retry_is_a_log_line_with_status_and_wait(sim):
    sim.faults.script(r"/annotations/", ["500", "502", "503:1"])
    run = run_tap(_config(sim), streams=["annotations"])
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if "then retry" in line]
    assert [s for s in ("HTTP 500", "HTTP 502", "HTTP 503") if any(s in x for x in lines)] == [
        "HTTP 500",
        "HTTP 502",
        "HTTP 503",
    ]
    assert (
        "HTTP 503 (Service temporarily unavailable, try again later.); waiting 1.0 s, then retry "
        "(attempt 3 of 8 failed)"
    ) in "\n".join(lines)
    assert sorted(r["id"] for r in run.records["annotations"]) == sorted(
        sim.truth.ids("annotations")
    )


def test_giving_up_on_5xx_names_status_path_stream_and_attempts(sim):
    sim.faults.script(r"/cohorts/", ["500"] * 2)
    run = run_tap(_config(sim, max_attempts=2), streams=["cohorts"])
    assert run.returncode == 1
    assert run.last_stderr_line == (
        f"tap-posthog: PostHog kept failing with HTTP 500 for /api/projects/{sim.project_id}"
        "/cohorts/ after 2 attempts (stream cohorts): A server error occurred."
    )


@pytest.mark.parametrize(
    ("fault", "code", "advice"),
    [
        ("api_queries_quota", "api_queries_quota_exceeded", "free monthly allowance"),
        ("quota_limit", "quota_limit_exceeded", "raise the limit"),
    ],
)
def test_402_quota_is_one_line_saying_what_to_do(sim, fault, code, advice):
    sim.faults.script(r"/query/", [fault])
    run = run_tap(_config(sim), streams=["events"])
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    line = run.last_stderr_line
    assert line.startswith(
        f"tap-posthog: stream events: PostHog refused the request (HTTP 402 {code})"
    )
    assert advice in line
    assert "then run again" in line
    assert len(sim.requests.matching("/query/")) == 1, "a 402 is not retried"


def _recent_start():
    """A start_date a little before the simulator's 30 days of events."""
    return (datetime.now(UTC) - timedelta(days=32)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _query_bodies(sim):
    return [json.loads(r.body) for r in sim.requests.matching("/query/", "POST")]


def test_json_512_from_the_query_endpoint_reaches_the_narrowing_hook(sim):
    """The events stream narrows its window on a 512: the retried query is not the same."""
    sim.faults.script(r"/query/", ["query_too_slow"])
    run = run_tap(_config(sim, start_date=_recent_start()), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    statuses = [r.status for r in sim.requests.matching("/query/", "POST")]
    assert statuses[0] == 512
    failed, retried = _query_bodies(sim)[:2]
    assert failed["query"]["values"] != retried["query"]["values"]
    ids = run.ids("events")
    assert len(ids) == len(set(ids))
    assert set(ids) == set(sim.truth.ids("events"))


def test_html_504_from_a_gateway_is_retried_unchanged(sim):
    sim.faults.script(r"/query/", ["504"])
    run = run_tap(_config(sim, start_date=_recent_start()), streams=["events"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert [r.status for r in sim.requests.matching("/query/", "POST")][:2] == [504, 200]
    failed, retried = _query_bodies(sim)[:2]
    assert failed == retried
    assert set(run.ids("events")) == set(sim.truth.ids("events"))


class _AppHostHandler(BaseHTTPRequestHandler):
    """Answers every request 200 with an HTML page, like PostHog's app host or a proxy."""

    def do_GET(self):
        body = b"<!doctype html><html><head><title>PostHog</title></head><body></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_200_html_page_says_base_url_is_not_the_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AppHostHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        config = {"personal_api_key": "phx_secret_value", "project_id": 7, "base_url": base_url}
        started = time.monotonic()
        run = run_tap(config, streams=["cohorts"])
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.last_stderr_line.startswith(
        "tap-posthog: `base_url` does not look like PostHog's API: got text/html from "
        f"{base_url}/api/projects/7/cohorts/"
    )
    assert "phx_secret_value" not in run.stderr
    assert elapsed < 20, "no retries for a wrong host"
