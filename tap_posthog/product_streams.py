"""Product tables: insights, dashboards, actions, experiments and surveys.

Each follows the list endpoint's real paging (posthog-real.md section 12 names PostHog's files):
limit/offset ``next`` links, except actions, which return the whole list in one page and
truncate it silently when ``limit`` is sent.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

from tap_posthog.pagination import NextLinkPaginator
from tap_posthog.streams import _ListStream
from tap_posthog.timeutil import parse_datetime

if TYPE_CHECKING:
    from singer_sdk.streams.rest import HTTPRequest, PageContext

#: ``date_from`` filters ``last_modified_at > value`` (strictly); re-read this much before the
#: bookmark so insights modified at the same instant, or committed late, are not missed.
INSIGHTS_MARGIN = timedelta(hours=1)


class InsightsStream(_ListStream):
    """Insights as ``basic=true`` lists them (the definition, not computed results).

    Incremental on ``last_modified_at``, which PostHog moves on every material edit
    (``Insight.MATERIAL_INSIGHT_FIELDS``); soft-deleted insights are not listed.
    """

    name = "insights"
    resource = "insights"
    replication_key = "last_modified_at"
    reads_whole = False  # incremental: a run sees only what changed since the bookmark
    endpoint_class = "analytics"  # ClickHouse burst/sustained throttles
    params: ClassVar[dict[str, str]] = {"basic": "true"}

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """Add ``date_from`` (bookmark minus a margin) to the first page of an incremental run."""
        request = super().get_http_request(page=page)
        if not page.next_page_token:
            since = self.get_starting_replication_key_value(page.stream_context)
            if since:
                start = parse_datetime(str(since)) - INSIGHTS_MARGIN
                request.params["date_from"] = start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return request


class DashboardsStream(_ListStream):
    """Dashboards: the default list, then the ``unlisted`` ones it hides."""

    name = "dashboards"
    resource = "dashboards"
    replication_key = None
    extra_passes = ({"creation_mode": "unlisted"},)


class ActionsStream(_ListStream):
    """Actions: one request without ``limit`` returns them all (``{"count", "results"}``).

    A ``next`` link, should a PostHog version send one, is still followed.
    """

    name = "actions"
    resource = "actions"
    replication_key = None

    def get_new_paginator(self) -> NextLinkPaginator:
        """Stops after the one page: the response has no ``next``."""
        return NextLinkPaginator()

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """Never send ``limit``: it would cut the list to one page with no way to the rest."""
        request = super().get_http_request(page=page)
        if not page.next_page_token:
            request.params = {}
        return request


class ExperimentsStream(_ListStream):
    """Experiments: the default (active) list, then ``archived=true``."""

    name = "experiments"
    resource = "experiments"
    replication_key = "updated_at"
    extra_passes = ({"archived": "true"},)


class SurveysStream(_ListStream):
    """Surveys (archived ones are listed by default; product-tour surveys never are)."""

    name = "surveys"
    resource = "surveys"
    replication_key = None
