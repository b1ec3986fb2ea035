"""REST list streams: projects, persons, feature flags, cohorts, definitions, annotations.

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

from tap_posthog.client import PostHogStream
from tap_posthog.pagination import NextLinkPaginator
from tap_posthog.timeutil import utc_or_none

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext

_SECRET_KEYS = frozenset({"secret_api_token", "secret_api_token_backup"})


class _ListStream(PostHogStream):
    """A project-scoped DRF list endpoint paged with ``limit``/``offset`` ``next`` links."""

    primary_keys: ClassVar[tuple[str, ...]] = ("id",)
    #: Path below ``/api/projects/{project_id}/``.
    resource: ClassVar[str] = ""
    #: Fixed query parameters of every request (e.g. ``type=person``).
    params: ClassVar[dict[str, str]] = {}
    #: Extra passes with other fixed parameters (e.g. archived flags).
    extra_passes: ClassVar[tuple[dict[str, str], ...]] = ()

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


class ProjectsStream(_ListStream):
    """Every project the key can see (``GET /api/projects/``), without secret tokens."""

    name = "projects"
    replication_key = None
    project_scoped = False

    @property
    def path(self) -> str:  # type: ignore[override]
        """The organisation's project list."""
        return "/api/projects/"

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Drop secret tokens (and any ``phs_`` value), then normalise as usual."""
        row = {key: value for key, value in row.items() if key not in _SECRET_KEYS}
        row = _drop_project_secrets(row)
        row = super().post_process(row, context) or row
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


class PersonsStream(_ListStream):
    """Persons; newest-first offset pages that can be short, empty or repeat a row."""

    name = "persons"
    resource = "persons"
    replication_key = "last_seen_at"
    endpoint_class = "analytics"


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


class SessionPropertyDefinitionsStream(_PropertyDefinitionsStream):
    """Session property definitions (``property_definitions:session``)."""

    name = "session_property_definitions"
    definition_type = "session"


class AnnotationsStream(_ListStream):
    """Annotations, including organisation-scoped ones shown in every project."""

    name = "annotations"
    resource = "annotations"
    replication_key = "updated_at"
    #: Organisation-scoped annotations appear, with the same id, in every project.
    primary_keys: ClassVar[tuple[str, ...]] = ("project_id", "id")
