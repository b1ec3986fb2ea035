"""HTTP plumbing: threaded HTTP/1.1 server, fault application and the request log."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .faults import Fault
from .http_types import Request, RequestLog, RequestRecord, Response
from .query_limits import TIME_LIMIT_DETAIL, memory_error, timeout_error, too_slow_error
from .render import ApiError, gateway_page, json_response
from .routes import App

QUERY_TIMEOUT_DETAIL = TIME_LIMIT_DETAIL


STATS_PATH = "/_sim/stats"


def stats_response(log: RequestLog, query: str) -> Response:
    """``GET /_sim/stats[?since=N]``: the request log from entry N on, for benchmarks.

    Not part of the PostHog API: no auth, no faults, not logged itself. Answers
    ``{"total": <log length>, "requests": [[method, path, status, rows, hogql], ...]}``:
    ``rows`` counts a HogQL result's rows, ``hogql`` is the first line of the query text.
    """
    since = int((parse_qs(query).get("since") or ["0"])[0])
    records = log.snapshot()
    entries = [[r.method, r.path, r.status, r.rows, _hogql_head(r)] for r in records[since:]]
    return json_response({"total": len(records), "requests": entries})


def _hogql_head(record: RequestRecord) -> str | None:
    if record.method != "POST" or not record.path.endswith("/query/") or not record.body:
        return None
    try:
        text = json.loads(record.body)["query"]["query"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(text).split("\n", 1)[0]


def _server_error() -> Response:
    return ApiError(500, "server_error", "error", "A server error occurred.").response()


def fault_response(fault: Fault) -> Response | None:
    """The response a fault produces (None when the real response should be used)."""
    if fault.kind == "429":
        return ApiError.throttled(max(0, int(fault.arg))).response()
    if fault.kind == "500":
        return _server_error()
    if fault.kind in ("502", "504"):
        return gateway_page(int(fault.kind))
    if fault.kind == "503":
        return json_response(
            {
                "type": "server_error",
                "code": "service_unavailable",
                "detail": "Service temporarily unavailable, try again later.",
                "attr": None,
            },
            503,
            {"Retry-After": str(int(fault.arg))},
        )
    if fault.kind == "query_timeout":
        return timeout_error("time_limit").response()
    if fault.kind == "query_timeout_default":
        return timeout_error().response()
    if fault.kind == "query_too_slow":
        return too_slow_error().response()
    if fault.kind == "query_memory":
        return memory_error(int(fault.arg) if fault.arg else 513).response()
    return None


class SimHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows the app and can drop every open connection on stop."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, app: App, log: RequestLog) -> None:
        """Bind 127.0.0.1:``port``."""
        self.app, self.log = app, log
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection, then hand it to a thread."""
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget and close a connection."""
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timeout, kill) is normal here; report anything else."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Shut down every open keep-alive connection."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "posthog-sim/0.1"
    sys_version = ""
    timeout = 120
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: SimHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep stderr quiet."""

    def do_GET(self) -> None:
        """Serve GET."""
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        if url.path == STATS_PATH and self.command == "GET":
            self._send(stats_response(self.server.log, url.query), truncate=False)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else None
        raw_headers = dict(self.headers.items())
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in raw_headers.items()},
            body=body,
            server_host=f"127.0.0.1:{self.server.server_address[1]}",
        )
        record = RequestRecord(
            self.command, url.path, request.query, 0, body, raw_headers, time=time.time()
        )
        fingerprint = hashlib.sha256(
            f"{self.command} {self.path}".encode() + (body or b"")
        ).hexdigest()
        fault = self.server.app.faults.pick(self.command, url.path, fingerprint)
        record.fault = f"{fault.kind}:{fault.arg:g}" if fault else None
        response = self._respond(request, record, fault)
        # Log before sending so a client that saw the response also sees the record.
        record.status = response.status if response is not None else 0
        record.rows = response.rows if response is not None else None
        if response is not None:
            record.rows_read, record.bytes_read = response.rows_read, response.bytes_read
        record.duration_s = time.monotonic() - started
        self.server.log.append(record)
        if response is None:
            self._drop()
        else:
            self._send(response, truncate=fault is not None and fault.kind == "drop_mid_body")

    def _respond(
        self, request: Request, record: RequestRecord, fault: Fault | None
    ) -> Response | None:
        """The response to send, or None to drop the connection before any header."""
        if fault is not None and fault.kind == "drop_before_headers":
            return None
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.arg)
        response = fault_response(fault) if fault is not None else None
        if response is None:
            try:
                response, record.auth_source = self.server.app.handle(request)
            except Exception:  # noqa: BLE001 - any bug becomes a 500 like Django's handler
                response = _server_error()
        return response

    def _send(self, response: Response, *, truncate: bool) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Vary", "Accept, Origin")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if truncate:
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self._drop()
            return
        self.wfile.write(response.body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
