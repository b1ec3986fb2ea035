"""The raw client limit: a plain ``requests`` loop over the tap's HogQL keyset queries.

It sends exactly the queries ``tap-posthog`` sends for a first full load of ``events`` (the
``min(timestamp)`` query, then windows that grow over sparse data and shrink over dense data,
each paged with the ``(timestamp, uuid)`` keyset) and parses every page and every row's
``properties``, doing nothing else. Prints ``{"rows", "requests", "page_rows"}`` as JSON.

``--decoder requests`` (the reference) parses with ``response.json()`` and ``json.loads``;
``--decoder msgspec`` with msgspec, as the tap does.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import requests

MIN_WINDOW = timedelta(minutes=1)
MAX_WINDOW = timedelta(days=31)


def _hogql_module() -> ModuleType:
    """``tap_posthog/hogql.py`` without importing the tap package (and the SDK) itself."""
    spec = importlib.util.find_spec("tap_posthog")
    assert spec is not None
    assert spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations)), "hogql.py")
    module_spec = importlib.util.spec_from_file_location("bench_hogql", path)
    assert module_spec is not None
    assert module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["bench_hogql"] = module
    module_spec.loader.exec_module(module)
    return module


def _utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _text(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pull(
    base_url: str, project_id: int, api_key: str, page_size: int, window_hours: float, decoder: str
) -> dict[str, Any]:
    """Read every event once; return rows, requests and rows per data page."""
    hogql = _hogql_module()
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

    def post(query: dict[str, Any]) -> Any:
        nonlocal requests_sent
        requests_sent += 1
        response = session.post(url, json=hogql.request_body(query), timeout=(10, 120))
        response.raise_for_status()
        return decode_body(response)

    hi = datetime.now(UTC)
    first = (post(hogql.FIRST_EVENT_QUERY).get("results") or [[None]])[0][0]
    start = _utc(first) if first else hi
    width = timedelta(hours=window_hours)
    page_rows: list[int] = []
    while start < hi:
        end = min(hi, start + width)
        page = hogql.EventsPage(lo=_text(start), hi=_text(end), limit=page_size)
        in_window = 0
        while True:
            body = post(page.query())
            columns = body["columns"]
            i_props, i_ts, i_uuid = (columns.index(c) for c in ("properties", "timestamp", "uuid"))
            rows = body["results"]
            for row in rows:
                props = row[i_props]
                row[i_props] = decode_props(props) if props else {}
            page_rows.append(len(rows))
            in_window += len(rows)
            if len(rows) < page_size:
                break
            last = rows[-1]
            page = hogql.EventsPage(
                lo=page.lo,
                hi=page.hi,
                limit=page_size,
                after_ts=_text(_utc(last[i_ts])),
                after_uuid=str(last[i_uuid]),
            )
        if in_window < page_size // 4:
            width = min(MAX_WINDOW, width * 2)
        elif in_window > page_size * 4:
            width = max(MIN_WINDOW, width / 2)
        start = end
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
