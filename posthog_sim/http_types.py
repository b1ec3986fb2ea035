"""Plain request/response/log-record types shared by the server and the endpoints."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Request:
    """A parsed HTTP request (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes | None
    server_host: str = "127.0.0.1"

    def param(self, name: str) -> str | None:
        """First value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def base_url(self) -> str:
        """``http://<Host header>`` as DRF's ``build_absolute_uri`` uses it."""
        return "http://" + self.headers.get("host", self.server_host)


@dataclass
class Response:
    """An HTTP response ready to send."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    #: Rows of a HogQL result, for ``GET /_sim/stats`` only (never sent).
    rows: int | None = None
    #: ClickHouse's rows and bytes read by the query behind the response (never sent).
    rows_read: int | None = None
    bytes_read: int | None = None


@dataclass
class RequestRecord:
    """One served (or dropped) request as the log keeps it.

    ``headers`` keep their original names and values, Authorization included, so tests can
    check where the key travelled. ``status`` is 0 when the connection was dropped before
    headers. ``auth_source`` says where a personal API key was found. ``time`` is the arrival
    time (``time.time()``), ``duration_s`` the time until the response was ready, ``rows`` the
    row count of a HogQL result, ``rows_read``/``bytes_read`` ClickHouse's own statistics of
    the query it ran (None when no query reached ClickHouse).
    """

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    body: bytes | None
    headers: dict[str, str]
    fault: str | None = None
    auth_source: str | None = None
    time: float = 0.0
    duration_s: float = 0.0
    rows: int | None = None
    rows_read: int | None = None
    bytes_read: int | None = None


class RequestLog(list[RequestRecord]):
    """Thread-safe list of :class:`RequestRecord` (``append``, ``clear``, iteration, indexing)."""

    def __init__(self) -> None:
        """Start empty."""
        super().__init__()
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:
        """Add a record."""
        with self._lock:
            super().append(record)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            super().clear()

    def snapshot(self) -> list[RequestRecord]:
        """A copy that is safe to iterate while requests keep arriving."""
        with self._lock:
            return list.copy(self)

    def __iter__(self) -> Iterator[RequestRecord]:
        """Iterate over a snapshot."""
        return iter(self.snapshot())

    def matching(self, path_part: str, method: str | None = None) -> list[RequestRecord]:
        """Records whose path contains ``path_part`` (and whose method matches, if given)."""
        return [
            r
            for r in self.snapshot()
            if path_part in r.path and (method is None or r.method == method)
        ]

    def clickhouse_read(self, path_part: str = "/query") -> tuple[int, int]:
        """Sum of ClickHouse's ``(rows_read, bytes_read)`` over the matching records."""
        records = self.matching(path_part)
        return (
            sum(r.rows_read or 0 for r in records),
            sum(r.bytes_read or 0 for r in records),
        )
