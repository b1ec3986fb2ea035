"""Group types and the groups of each type (ee/clickhouse/views/groups.py).

``groups_types/`` is a bare JSON array. ``groups/?group_type_index=N`` pages 100 rows at a time
with an opaque keyset ``cursor`` in ``next`` (``previous`` is always null, there is no count),
so ties on ``created_at`` across a page edge are safe and the paginator just follows ``next``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk.pagination import SinglePagePaginator

from tap_posthog.pagination import NextLinkPaginator
from tap_posthog.streams import _ListStream

if TYPE_CHECKING:
    from collections.abc import Iterable

    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext


class GroupTypesStream(_ListStream):
    """Group types of the project (unpaginated); parent of ``groups``."""

    name = "group_types"
    resource = "groups_types"
    primary_keys: ClassVar[tuple[str, ...]] = ("project_id", "group_type_index")
    replication_key = None

    def get_new_paginator(self) -> SinglePagePaginator:
        """One response holds every group type."""
        return SinglePagePaginator()

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """No paging parameters."""
        request = super().get_http_request(page=page)
        request.params = {}
        return request

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        """The body is a bare array."""
        body = getattr(response, "json_body", None)
        if body is None:
            body = response.json()
        yield from body or []

    def record_key(self, record: dict[str, Any]) -> Any:
        """Group type indexes are unique within a project."""
        return record.get("group_type_index")

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        """``groups`` reads each group type of the project."""
        index = record["group_type_index"]
        return {"project_id": self.project_of(context), "group_type_index": index}


class GroupsStream(_ListStream):
    """Groups of each group type, following the keyset ``cursor`` links."""

    name = "groups"
    resource = "groups"
    parent_stream_type = GroupTypesStream
    primary_keys: ClassVar[tuple[str, ...]] = ("project_id", "group_type_index", "group_key")
    replication_key = None

    def get_new_paginator(self) -> NextLinkPaginator:
        """Follow ``next`` (it carries ``group_type_index`` and ``cursor``)."""
        return NextLinkPaginator()

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """First page: the group type only (the page size is fixed at 100 by PostHog)."""
        request = super().get_http_request(page=page)
        if not page.next_page_token:
            assert page.stream_context is not None
            request.params = {"group_type_index": page.stream_context["group_type_index"]}
        return request

    def record_key(self, record: dict[str, Any]) -> Any:
        """A group is its type and key."""
        return (record.get("group_type_index"), record.get("group_key"))
