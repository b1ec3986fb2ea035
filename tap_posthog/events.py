"""EventsStream: events through the Query API (HogQL), in ascending ``(timestamp, uuid)`` order.

The stream ties the parts together and writes the output: ``events_plan`` decides the range
(and keeps the state), ``events_windows`` pages the
range in density-sized windows with a server-side keyset on ``(timestamp, uuid)`` (ties on a
page boundary are neither lost nor repeated), ``events_records`` builds the records, ``hogql``
writes the queries. The stream is sorted, so an interrupted run resumes from its cursor.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL

from tap_posthog.client import PostHogStream
from tap_posthog.errors import PostHogAPIError, response_detail
from tap_posthog.events_plan import RunPlan, finish_run, plan_run
from tap_posthog.events_records import PageRecords, QueryBody, decode_query_body
from tap_posthog.events_windows import (
    FLOOR,
    PageRequest,
    QueryOverloadError,
    WindowSizer,
    initial_width,
    read_pages,
)
from tap_posthog.hogql import EventsPage, is_overload, request_body
from tap_posthog.output import DirectOutputMixin
from tap_posthog.timeutil import parse_datetime, to_utc_string, utc_now

if TYPE_CHECKING:
    from collections.abc import Iterable

    import requests
    from singer_sdk.helpers.types import Context


class EventsStream(DirectOutputMixin, PostHogStream):
    """Events read with HogQL keyset pagination."""

    name = "events"
    #: Event uuids come from the client, so the same uuid can exist in two projects.
    primary_keys: ClassVar[tuple[str, ...]] = ("project_id", "id")
    replication_key = "timestamp"
    is_sorted = True
    endpoint_class = "query"
    http_method = "POST"
    decode_body = staticmethod(decode_query_body)
    #: Records are built with their final types (see ``events_records``): no conformance.
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

    def run_query(self, query: dict[str, Any]) -> QueryBody:
        """POST one HogQL query and return the response (rows decoded one by one later)."""
        prepared = self.build_prepared_request(
            method="POST",
            url=self.get_url({"project_id": self.current_project}),
            json=request_body(query),
        )
        response = self.send(prepared)
        return response.json_body  # type: ignore[attr-defined,no-any-return]

    def on_retry(self, status: int, response: requests.Response) -> None:
        """A query PostHog found too expensive is narrowed by the caller, not repeated.

        Any JSON 504, 512 or 513 (time limit, estimated too slow, memory), whatever its text;
        a gateway's HTML 504 is retried like any 5xx.
        """
        if is_overload(status, response.headers.get("Content-Type", ""), response.text):
            raise QueryOverloadError(f"HTTP {status}: {response_detail(response)}")

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
        plan = plan_run(state, self.config, utc_now())
        if plan is None:
            finish_run(state, None, previous_bookmark, None, self.replication_key)
            return
        run = state["run"] = plan.to_state()
        # The SDK checks that records ascend from the bookmark: restart it at the range start
        # (or at the cursor of an interrupted run).
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = plan.after_ts or plan.lo
        if context is None and self.replication_method == REPLICATION_INCREMENTAL:
            self._bookmarks = state
        max_ingested: str | None = None
        try:
            for page in self._pages(plan):
                self._extracted_at = page.extracted_at
                for record in page:
                    run["after_ts"] = record["timestamp"]
                    run["after_uuid"] = record["id"]
                    created = record["created_at"]
                    if created is not None and (max_ingested is None or created > max_ingested):
                        max_ingested = created
                    yield record
        finally:
            self._flush_records()  # every record yielded so far has been written
            self._bookmarks = None
        plan.after_ts = run.get("after_ts")
        finish_run(state, plan, previous_bookmark, max_ingested, self.replication_key)

    def _pages(self, plan: RunPlan) -> Iterable[PageRecords]:
        """The run's pages, in keyset order; an overload past every narrowing is fatal."""
        sizer = WindowSizer(
            page_rows=int(self.config["events_page_size"]),
            width=initial_width(plan.lo, float(self.config["events_window_hours"])),
        )

        def fetch(request: PageRequest) -> PageRecords:
            after_ts, after_uuid = request.after or (None, None)
            page = EventsPage(
                lo=to_utc_string(request.lo),
                hi=to_utc_string(request.hi),
                limit=request.limit,
                fresh_from=plan.fresh_from,
                ingested_from=plan.ingested_from,
                after_ts=after_ts,
                after_uuid=after_uuid,
                person_properties=bool(self.config.get("events_person_properties", False)),
            )
            return PageRecords(self.run_query(page.query()), self.current_project)

        def narrowed(width: timedelta, limit: int) -> None:
            self.logger.warning(
                "Query too expensive for PostHog; narrowing to %s windows, %d rows a page",
                width,
                limit,
            )

        lo = parse_datetime(plan.lo)
        try:
            yield from read_pages(
                fetch,
                lo=lo,
                range_hi=plan.read_until,
                open_from=parse_datetime(plan.hi),
                after=plan.after,
                sizer=sizer,
                on_narrow=narrowed,
                # A first sync without start_date looks for its first event.
                find_first=lo <= FLOOR and plan.after is None and plan.ingested_from is None,
            )
        except QueryOverloadError as exc:
            msg = (
                "an events query stayed too expensive for PostHog even over a one-minute "
                f"window of {sizer.page_rows} rows: {exc}"
            )
            raise PostHogAPIError(msg) from None
