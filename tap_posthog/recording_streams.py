"""Session recordings (posthog/session_recordings/session_recording_api.py).

The list answers ``{"results", "has_next", "version"}`` with no ``next`` URL; ``limit`` and
``offset`` page it. Without ``date_from`` it shows only the last three days, so the tap always
sends one: far in the past on the first run (PostHog's retention floor still applies), then the
bookmark minus :data:`RECORDINGS_LOOKBACK` so recordings still growing are read again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from tap_posthog.client import PostHogStream
from tap_posthog.pagination import HasNextOffsetPaginator
from tap_posthog.streams import _ListStream
from tap_posthog.timeutil import parse_datetime

if TYPE_CHECKING:
    from singer_sdk.streams.rest import HTTPRequest, PageContext

#: PostHog ends a session after 24 hours at most, so a recording that started more than this
#: before the newest one already seen cannot grow any more.
RECORDINGS_LOOKBACK = timedelta(hours=25)
#: ``date_from`` of a first run: everything the retention floor still keeps.
FULL_HISTORY = "1970-01-01T00:00:00Z"


class SessionRecordingsStream(_ListStream):
    """Recording metadata, by the recording's start time."""

    name = "session_recordings"
    resource = "session_recordings"
    primary_keys: ClassVar[tuple[str, ...]] = ("project_id", "id")
    replication_key = "start_time"
    reads_whole = False  # incremental: a run sees only what changed since the bookmark
    endpoint_class = "analytics"  # ClickHouse burst/sustained throttles

    def get_new_paginator(self) -> HasNextOffsetPaginator:
        """Offsets of ``page_size`` while ``has_next`` is true."""
        return HasNextOffsetPaginator(0, int(self.config["page_size"]))

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """``limit``, ``offset`` and an explicit ``date_from`` on every page."""
        # the page token is an offset, not a ``next`` link's query: skip _ListStream's version
        request = PostHogStream.get_http_request(self, page=page)
        since = self.get_starting_replication_key_value(page.stream_context)
        date_from = FULL_HISTORY
        if since:
            start = parse_datetime(str(since)) - RECORDINGS_LOOKBACK
            date_from = start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        request.params = {
            "limit": int(self.config["page_size"]),
            "offset": int(page.next_page_token or 0),
            "date_from": date_from,
        }
        return request

    def record_key(self, record: dict[str, Any]) -> Any:
        """The session id."""
        return record.get("id")
