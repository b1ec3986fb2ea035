"""REST list streams: projects, feature flags, cohorts, definitions, annotations.

None of these endpoints can filter on an updated-at value server-side, and some edits do not
move the declared replication key (renaming a cohort leaves ``last_calculation`` alone; a
person's properties change without ``last_seen_at`` moving). So every run reads the whole
list and emits every record once; the replication key only records a bookmark.
Offset pages over newest-first lists can repeat a row when data changes mid-read, so records
are de-duplicated by id within a run.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk.pagination import SinglePagePaginator

from tap_posthog.client import PostHogStream
from tap_posthog.pagination import NextLinkPaginator
from tap_posthog.timeutil import utc_or_none

if TYPE_CHECKING:
    from collections.abc import Iterable

    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext

_SECRET_KEYS = frozenset({"secret_api_token", "secret_api_token_backup"})
FULL_TABLE = "FULL_TABLE"


def announce_complete_read(stream: PostHogStream) -> None:
    """After the last record of a complete read, repeat the SDK's ``ACTIVATE_VERSION``.

    Uses the SDK's private ``_stream_version`` and ``_write_activate_version_message`` (pinned
    in docs/private-api.md).
    """
    version = stream._stream_version
    if stream.emit_activate_version_messages and version is not None:
        stream._write_activate_version_message(version)


class _ListStream(PostHogStream):
    """A project-scoped DRF list endpoint paged with ``limit``/``offset`` ``next`` links.

    Read whole every run, so the stream declares Singer's ``FULL_TABLE`` replication method
    (omniload derives deletion detection from it). With ``emit_activate_version_messages``
    it brackets the records with two ``ACTIVATE_VERSION`` messages of the same version: the
    SDK's before the first record, and one after the last record of a complete read, which
    tells a target that every row absent from this version is gone from PostHog.
    """

    primary_keys: ClassVar[tuple[str, ...]] = ("id",)
    #: Path below ``/api/projects/{project_id}/``.
    resource: ClassVar[str] = ""
    #: Fixed query parameters of every request (e.g. ``type=person``).
    params: ClassVar[dict[str, str]] = {}
    #: Extra passes with other fixed parameters (e.g. archived flags).
    extra_passes: ClassVar[tuple[dict[str, str], ...]] = ()
    #: True when every run reads the whole list (``FULL_TABLE``: rows absent from a complete
    #: read are gone from PostHog); False for lists read incrementally from a bookmark.
    reads_whole: ClassVar[bool] = True

    @property
    def path(self) -> str:  # type: ignore[override]
        """The list endpoint; ``{project_id}`` comes from the partition or the config."""
        return f"/api/projects/{{project_id}}/{self.resource}/"

    def get_new_paginator(self) -> NextLinkPaginator:
        """Follow ``next`` links through short and empty pages."""
        return NextLinkPaginator()

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """First page: fixed params and ``limit``; later pages: the ``next`` link's query."""
        request = super().get_http_request(page=page)
        if page.next_page_token:
            request.params = dict(page.next_page_token)
        else:
            request.params = {
                **self.params,
                **self._pass_params,
                "limit": int(self.config["page_size"]),
            }
        return request

    _pass_params: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Declare a whole-read stream ``FULL_TABLE`` (a catalog may still override it)."""
        super().__init__(*args, **kwargs)
        if self.reads_whole:
            self.forced_replication_method = FULL_TABLE

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read every pass, emitting each id once (a refused optional stream ends here)."""
        seen: set[Any] = set()
        with self.optional_access(context):
            for pass_params in ({}, *self.extra_passes):
                self._pass_params = pass_params
                for record in self.request_records(context):
                    record_id = self.record_key(record)
                    if record_id in seen:
                        continue
                    seen.add(record_id)
                    yield record
        self._pass_params = {}
        self._announce_complete_read()

    def _announce_complete_read(self) -> None:
        """After the last record of a complete read, repeat the SDK's ``ACTIVATE_VERSION``."""
        if self.reads_whole:
            announce_complete_read(self)

    def record_key(self, record: dict[str, Any]) -> Any:
        """What identifies a record within one project (de-duplication key)."""
        return record.get("id")

    @cached_property
    def _datetime_fields(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, prop in self.schema["properties"].items()
            if prop.get("format") == "date-time"
        )

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Add ``project_id`` and render datetimes in UTC (a missing key becomes null)."""
        if self.replication_key:
            row.setdefault(self.replication_key, None)
        for name in self._datetime_fields:
            if name in row:
                row[name] = utc_or_none(row[name])
        if self.project_scoped:
            row["project_id"] = self.project_of(context)
        return row


class ProjectsStream(PostHogStream):
    """The configured project (``GET /api/projects/{id}/``), without secret tokens.

    The detail route works with project-scoped personal API keys; the list ``/api/projects/``
    answers them 403 ("API keys with scoped projects are only supported on project-based
    endpoints.", posthog/permissions.py) and lists every organization's projects otherwise.
    """

    name = "projects"
    primary_keys: ClassVar[tuple[str, ...]] = ("id",)
    replication_key = None

    def get_new_paginator(self) -> SinglePagePaginator:
        """One project, one response."""
        return SinglePagePaginator()

    @property
    def path(self) -> str:  # type: ignore[override]
        """The detail endpoint of the project being read (partition or config)."""
        return "/api/projects/{project_id}/"

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        """The body is the project itself (no list envelope)."""
        body = getattr(response, "json_body", None)
        yield body if body is not None else response.json()

    @cached_property
    def _datetime_fields(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, prop in self.schema["properties"].items()
            if prop.get("format") == "date-time"
        )

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Drop secret tokens (and any ``phs_`` value), render datetimes in UTC."""
        row = _drop_project_secrets(row)
        for name in self._datetime_fields:
            if name in row:
                row[name] = utc_or_none(row[name])
        row["project_id"] = row["id"]
        return row


def _drop_project_secrets(value: Any) -> Any:
    """Replace any string that is a project secret key (``phs_...``) with None, recursively."""
    if isinstance(value, str):
        return None if value.startswith("phs_") else value
    if isinstance(value, dict):
        return {k: _drop_project_secrets(v) for k, v in value.items() if k not in _SECRET_KEYS}
    if isinstance(value, list):
        return [_drop_project_secrets(v) for v in value]
    return value


class FeatureFlagsStream(_ListStream):
    """All non-deleted flags: the default list, then the archived ones it hides."""

    name = "feature_flags"
    resource = "feature_flags"
    replication_key = "updated_at"
    extra_passes = ({"archived": "true"},)


class CohortsStream(_ListStream):
    """Cohorts (``last_calculation`` may be null)."""

    name = "cohorts"
    resource = "cohorts"
    replication_key = "last_calculation"

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        """``cohort_people`` reads the members of each listed cohort, in its project."""
        return {"project_id": self.project_of(context), "cohort_id": record["id"]}


class EventDefinitionsStream(_ListStream):
    """Event definitions, ordered by name for stable offsets."""

    name = "event_definitions"
    resource = "event_definitions"
    replication_key = "last_updated_at"
    params: ClassVar[dict[str, str]] = {"ordering": "name"}


class _PropertyDefinitionsStream(_ListStream):
    """Property definitions of one ``type``; the tap adds the ``type`` field."""

    resource = "property_definitions"
    replication_key = "updated_at"
    #: Virtual ``$builtin_*`` rows carry the same id in every project.
    primary_keys: ClassVar[tuple[str, ...]] = ("project_id", "id")
    definition_type: ClassVar[str] = ""

    @property
    def params(self) -> dict[str, str]:  # type: ignore[override]
        """Ask for one definition type."""
        return {"type": self.definition_type}

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Add ``type``; virtual ``$builtin_*`` rows are real rows."""
        row["type"] = self.definition_type
        return super().post_process(row, context)


class EventPropertyDefinitionsStream(_PropertyDefinitionsStream):
    """Event property definitions (``property_definitions:event``)."""

    name = "event_property_definitions"
    definition_type = "event"


class PersonPropertyDefinitionsStream(_PropertyDefinitionsStream):
    """Person property definitions, including virtual ``$builtin_*`` rows."""

    name = "person_property_definitions"
    definition_type = "person"


class SessionPropertyDefinitionsStream(PostHogStream):
    """Session properties from ``GET /api/projects/{id}/sessions/property_definitions/``.

    PostHog derives them from the HogQL sessions table (posthog/api/session.py), needs scope
    ``query:read`` and answers every row at once; ``property_definitions?type=session`` only
    lists stored rows that ingestion may never create (see docs/decisions.md).
    """

    name = "session_property_definitions"
    # the same names in every project: the key includes the project
    primary_keys: ClassVar[tuple[str, ...]] = ("project_id", "id")
    replication_key = None
    endpoint_class = "analytics"  # ClickHouse throttles: 240/minute, 1200/hour

    @property
    def path(self) -> str:  # type: ignore[override]
        """The session property list of the project being read (partition or config)."""
        return "/api/projects/{project_id}/sessions/property_definitions/"

    def get_new_paginator(self) -> SinglePagePaginator:
        """One unpaginated response holds every row."""
        return SinglePagePaginator()

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Add ``type`` and ``project_id`` like the other property definition streams."""
        row["type"] = "session"
        row["project_id"] = self.project_of(context)
        return row


class AnnotationsStream(_ListStream):
    """Annotations, including organisation-scoped ones shown in every project."""

    name = "annotations"
    resource = "annotations"
    replication_key = "updated_at"
    #: Organisation-scoped annotations appear, with the same id, in every project.
    primary_keys: ClassVar[tuple[str, ...]] = ("project_id", "id")
