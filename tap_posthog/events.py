"""EventsStream: events through the Query API (HogQL), in ascending ``(timestamp, uuid)`` order.

A run reads the time range ``[lo, hi)`` in windows, each paged with a server-side keyset on
``(timestamp, uuid)``, so ties on a page boundary are neither lost nor repeated. The stream
is sorted, so an interrupted run resumes from its cursor.

Incremental runs and late events: after a completed run the state holds ``window_end`` (the
run's ``hi``) and ``ingested_watermark`` (ingestion time up to which the range was read). The
next run reads from ``window_end - lookback``; in the part already read it asks only for
events ingested since the watermark (``created_at``), so a rerun costs what is new, and an
event that arrives up to ``lookback`` late still lands. Events ingested shortly before the
watermark are read again (margin for ingestion lag); destinations de-duplicate on ``id``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL

from tap_posthog.client import PostHogStream
from tap_posthog.errors import PostHogAPIError, response_detail
from tap_posthog.hogql import FIRST_EVENT_QUERY, EventsPage, request_body
from tap_posthog.output import DirectOutputMixin
from tap_posthog.timeutil import hogql_utc_text, parse_datetime, to_utc_string, utc_now

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    import requests
    from singer_sdk.helpers.types import Context

INGESTION_MARGIN = timedelta(minutes=15)
MIN_WINDOW = timedelta(minutes=1)
MAX_WINDOW = timedelta(days=31)
_json_decode = msgspec.json.Decoder().decode


class _QueryBody(msgspec.Struct):
    """A Query API response with each row left undecoded (a reference into the body)."""

    columns: list[str] | None = None
    results: list[msgspec.Raw] | None = None


_decode_query_body = msgspec.json.Decoder(_QueryBody).decode


class QueryTimeoutError(PostHogAPIError):
    """PostHog stopped a query at its execution time limit."""


class EventsStream(DirectOutputMixin, PostHogStream):
    """Events read with HogQL keyset pagination."""

    name = "events"
    #: Event uuids come from the client, so the same uuid can exist in two projects.
    primary_keys: ClassVar[tuple[str, ...]] = ("project_id", "id")
    replication_key = "timestamp"
    is_sorted = True
    endpoint_class = "query"
    http_method = "POST"
    decode_body = staticmethod(_decode_query_body)
    #: Records are built with their final types (see ``_records``): no per-record conformance.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Checkpoint (emit STATE) once per page of events."""
        super().__init__(*args, **kwargs)
        self.STATE_MSG_FREQUENCY = int(self.config.get("events_page_size", 50000))

    #: The project being read (set per partition by :meth:`get_records`).
    current_project: int | None = None

    @property
    def path(self) -> str:  # type: ignore[override]
        """The Query API endpoint; ``{project_id}`` is the project being read."""
        return "/api/projects/{project_id}/query/"

    # -- HTTP -------------------------------------------------------------------------

    def run_query(self, query: dict[str, Any]) -> _QueryBody:
        """POST one HogQL query and return the response (rows decoded one by one later)."""
        prepared = self.build_prepared_request(
            method="POST",
            url=self.get_url({"project_id": self.current_project}),
            json=request_body(query),
        )
        response = self._request(prepared, None)
        return response.json_body  # type: ignore[attr-defined,no-any-return]

    #: True while reading pages, where a slow query can be narrowed instead of retried.
    _narrowable = False

    def on_retry(self, status: int, response: requests.Response) -> None:
        """A page query that hit PostHog's time limit is narrowed, not retried as it was.

        PostHog answers 504 (or 512, "estimated execution time too long") with a JSON body
        naming the time limit; a gateway's HTML 504 is retried like any 5xx.
        """
        if not self._narrowable:
            return
        if status == 512 or (status == 504 and "time limit" in response.text):
            msg = (
                "an events query kept hitting PostHog's time limit even over a one-minute "
                f"window: {response_detail(response)}"
            )
            raise QueryTimeoutError(msg)

    # -- planning ---------------------------------------------------------------------

    def _first_event_time(self) -> str | None:
        body = self.run_query(FIRST_EVENT_QUERY)
        rows = [_json_decode(row) for row in (body.results or [])[:1]]
        value = rows[0][0] if rows and rows[0] else None
        if not value:
            return None
        first = parse_datetime(value)
        # ClickHouse answers min() over no rows with the epoch, not NULL.
        return to_utc_string(first) if first.year > 1970 else None

    def _plan(self, state: dict[str, Any]) -> dict[str, Any] | None:
        """Return the run to do (and store it in the state), or None if there is nothing."""
        if state.get("run"):
            return state["run"]  # type: ignore[no-any-return]
        started = utc_now()
        end_date = self.config.get("end_date")
        hi = min(parse_datetime(end_date), started) if end_date else started
        start_date = self.config.get("start_date")
        run: dict[str, Any] = {"hi": to_utc_string(hi), "started_at": to_utc_string(started)}
        if state.get("window_end"):
            window_end = parse_datetime(state["window_end"])
            lo = window_end - timedelta(hours=float(self.config["events_lookback_hours"]))
            if start_date:
                lo = max(lo, parse_datetime(start_date))
            run["fresh_from"] = to_utc_string(window_end)
            if state.get("ingested_watermark"):
                ingested = parse_datetime(state["ingested_watermark"]) - INGESTION_MARGIN
                run["ingested_from"] = to_utc_string(ingested)
            run["lo"] = to_utc_string(lo)
        elif start_date:
            run["lo"] = to_utc_string(start_date)
        else:
            first = self._first_event_time()
            run["lo"] = first or run["hi"]
        if run["lo"] >= run["hi"]:
            return None
        state["run"] = run
        return run

    # -- records ----------------------------------------------------------------------

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read one project's events into its partition's state (a refused optional stream ends)."""
        self.current_project = self.project_of(context)
        with self.optional_access(context):
            yield from self._read_project(context)

    def _read_project(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read the planned range window by window, resuming from the state's cursor."""
        state = self.get_context_state(context)
        previous_bookmark = state.get("replication_key_value")
        run = self._plan(state)
        if run is None:
            self._finish(state, None, previous_bookmark, None)
            return
        # The SDK checks that records ascend from the bookmark: restart it at the range start
        # (or at the cursor of an interrupted run).
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = run.get("after_ts") or run["lo"]
        if context is None and self.replication_method == REPLICATION_INCREMENTAL:
            self._bookmarks = state
        max_ingested: str | None = None
        try:
            for record in self._read_range(run):
                run["after_ts"] = record["timestamp"]
                run["after_uuid"] = record["id"]
                created = record["created_at"]
                if created is not None and (max_ingested is None or created > max_ingested):
                    max_ingested = created
                yield record
        finally:
            self._flush_records()  # every record yielded so far has been written
            self._bookmarks = None
        self._finish(state, run, previous_bookmark, max_ingested)

    def _finish(
        self,
        state: dict[str, Any],
        run: dict[str, Any] | None,
        previous_bookmark: str | None,
        max_ingested: str | None,
    ) -> None:
        """Mark the run complete: move window end and watermark, keep the highest bookmark."""
        value = state.get("replication_key_value") if run and run.get("after_ts") else None
        bookmarks = [v for v in (previous_bookmark, value) if v]
        if bookmarks:
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = max(bookmarks)
        if run is None:
            return
        state.pop("run", None)
        state["window_end"] = run["hi"]
        candidates = [state.get("ingested_watermark")]
        if max_ingested:
            candidates.append(min(max_ingested, run["started_at"]))
        known = [c for c in candidates if c]
        if known:
            state["ingested_watermark"] = max(known)

    def _read_range(self, run: dict[str, Any]) -> Iterator[dict[str, Any]]:
        page_size = int(self.config["events_page_size"])
        width = timedelta(hours=float(self.config["events_window_hours"]))
        hi = parse_datetime(run["hi"])
        after_ts, after_uuid = run.get("after_ts"), run.get("after_uuid")
        start = parse_datetime(after_ts) if after_ts else parse_datetime(run["lo"])
        while start < hi:
            end = min(hi, start + width)
            page = EventsPage(
                lo=to_utc_string(start),
                hi=to_utc_string(end),
                limit=page_size,
                fresh_from=run.get("fresh_from"),
                ingested_from=run.get("ingested_from"),
                after_ts=after_ts,
                after_uuid=after_uuid,
            )
            try:
                rows_in_window = 0
                while True:
                    self._narrowable = True
                    try:
                        body = self.run_query(page.query())
                    finally:
                        self._narrowable = False
                    rows = self._records(body)
                    yield from rows
                    rows_in_window += len(rows)
                    if len(rows) < page.limit:
                        break
                    last = rows[-1]
                    after_ts, after_uuid = last["timestamp"], last["id"]
                    page = replace(page, after_ts=after_ts, after_uuid=after_uuid)
            except QueryTimeoutError:
                if end - start <= MIN_WINDOW and page_size <= 1000:
                    raise
                if end - start > MIN_WINDOW:
                    width = max(MIN_WINDOW, (end - start) / 4)
                else:
                    page_size = max(1000, page_size // 4)
                self.logger.warning(
                    "Query hit PostHog's time limit; narrowing to %s windows, %d rows a page",
                    width,
                    page_size,
                )
                after_ts, after_uuid = run.get("after_ts"), run.get("after_uuid")
                if after_ts and parse_datetime(after_ts) > start:
                    start = parse_datetime(after_ts)
                continue
            # Sparse windows grow, dense ones shrink, so a page stays well under the time limit.
            if rows_in_window < page_size // 4:
                width = min(MAX_WINDOW, width * 2)
            elif rows_in_window > page_size * 4:
                width = max(MIN_WINDOW, width / 2)
            start = end

    def _records(self, body: _QueryBody) -> _PageRecords:
        """The page's records, with their final (schema) types, built as they are read."""
        self._extracted_at = datetime.now(UTC)
        columns = body.columns or []
        index = {name: i for i, name in enumerate(columns)}
        i_uuid, i_event, i_distinct = index["uuid"], index["event"], index["distinct_id"]
        i_props, i_ts, i_created = index["properties"], index["timestamp"], index["created_at"]
        i_chain, i_person = index["elements_chain"], index["person_id"]
        i_session = index.get("$session_id")
        project_id = self.current_project

        def build(raw: msgspec.Raw) -> dict[str, Any]:
            row = _json_decode(raw)
            props = row[i_props]
            if isinstance(props, str):
                props = _json_decode(props) if props else {}
            person = row[i_person]
            created = row[i_created]
            return {
                "id": str(row[i_uuid]),
                "event": row[i_event],
                "distinct_id": row[i_distinct],
                "timestamp": hogql_utc_text(row[i_ts]),
                "created_at": hogql_utc_text(created) if created else None,
                "properties": props,
                "elements_chain": row[i_chain],
                "person_id": str(person) if person is not None else None,
                "session_id": row[i_session] if i_session is not None else None,
                "project_id": project_id,
            }

        return _PageRecords(body.results or [], build)


class _PageRecords:
    """One page's records, built as they are iterated; each row is released once built.

    A page thus holds its decoded rows, never rows and records at once, and is gone by the
    time the next page arrives. Indexing serves the last record (the page's keyset cursor).
    """

    def __init__(self, rows: list[Any], build: Callable[[Any], dict[str, Any]]) -> None:
        self._rows, self._build = rows, build
        self._last: dict[str, Any] | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rows, build = self._rows, self._build
        for i, row in enumerate(rows):
            rows[i] = None
            self._last = record = build(row)
            yield record

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self._rows[index]
        if row is not None:
            return self._build(row)
        if self._last is not None and index in (-1, len(self._rows) - 1):
            return self._last
        msg = f"record {index} of the page was already emitted"
        raise IndexError(msg)
