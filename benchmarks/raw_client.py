"""The raw client limit: a plain ``requests`` loop over the tap's HogQL keyset queries.

It sends exactly the queries ``tap-posthog`` sends for a first full load of ``events`` (the
density-sized windows paged with the ``(timestamp, uuid)`` keyset, from the tap's SDK-free
``events_windows``) and parses every page and every row's
``properties``, doing nothing else. Prints ``{"rows", "requests", "page_rows"}`` as JSON.

``--decoder requests`` (the reference) parses with ``response.json()`` and ``json.loads``;
``--decoder msgspec`` with msgspec, as the tap does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from tap_posthog import events_windows as windows
from tap_posthog import hogql


def _utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _text(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Page:
    """A data page as ``events_windows.read_pages`` needs it."""

    def __init__(self, rows: list[list[Any]], i_ts: int, i_uuid: int) -> None:
        self.rows, self.i_ts, self.i_uuid = rows, i_ts, i_uuid

    def __len__(self) -> int:
        return len(self.rows)

    def last_key(self) -> tuple[str, str]:
        last = self.rows[-1]
        return _text(_utc(last[self.i_ts])), str(last[self.i_uuid])

    def first_timestamp(self) -> str | None:
        return self.rows[0][self.i_ts] if self.rows else None

    def tail_timestamp(self) -> str | None:
        return self.rows[(3 * len(self.rows)) // 4][self.i_ts] if self.rows else None


def pull(
    base_url: str, project_id: int, api_key: str, page_size: int, window_hours: float, decoder: str
) -> dict[str, Any]:
    """Read every event once; return rows, requests and rows per data page."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api_key}"
    url = f"{base_url.rstrip('/')}/api/projects/{project_id}/query/"
    decode_body: Callable[[requests.Response], Any]
    decode_props: Callable[[str], Any]
    if decoder == "msgspec":
        import msgspec

        decode_props = msgspec.json.Decoder().decode
        decode_body = lambda response: decode_props(response.content)  # noqa: E731
    else:
        decode_body, decode_props = requests.Response.json, json.loads
    requests_sent = 0
    page_rows: list[int] = []

    def post(query: dict[str, Any]) -> Any:
        nonlocal requests_sent
        requests_sent += 1
        response = session.post(url, json=hogql.request_body(query), timeout=(10, 120))
        response.raise_for_status()
        return decode_body(response)

    def fetch(request: windows.PageRequest) -> _Page:
        after_ts, after_uuid = request.after or (None, None)
        query = hogql.EventsPage(
            lo=_text(request.lo),
            hi=_text(request.hi),
            limit=request.limit,
            after_ts=after_ts,
            after_uuid=after_uuid,
        ).query()
        body = post(query)
        columns = body["columns"]
        i_props, i_ts, i_uuid = (columns.index(c) for c in ("properties", "timestamp", "uuid"))
        rows = body["results"]
        for row in rows:
            props = row[i_props]
            row[i_props] = decode_props(props) if props else {}
        page_rows.append(len(rows))
        return _Page(rows, i_ts, i_uuid)

    now = datetime.now(UTC)
    start = windows.FLOOR
    width = windows.initial_width(_text(start), window_hours)
    sizer = windows.WindowSizer(page_rows=page_size, width=width)
    pages = windows.read_pages(
        fetch,
        lo=start,
        range_hi=windows.CEILING,
        open_from=now,
        after=None,
        sizer=sizer,
        find_first=True,
    )
    for _ in pages:
        pass
    return {"rows": sum(page_rows), "requests": requests_sent, "page_rows": page_rows}


def main() -> int:
    """Command line: ``python -m benchmarks.raw_client --base-url URL --project-id ID``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--project-id", type=int, required=True)
    parser.add_argument("--page-size", type=int, default=50_000)
    parser.add_argument("--window-hours", type=float, default=24.0)
    parser.add_argument("--decoder", choices=("requests", "msgspec"), default="requests")
    args = parser.parse_args()
    api_key = os.environ["POSTHOG_PERSONAL_API_KEY"]
    result = pull(
        args.base_url, args.project_id, api_key, args.page_size, args.window_hours, args.decoder
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
