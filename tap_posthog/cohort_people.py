"""Members of every listed cohort, static and dynamic (``GET /cohorts/{id}/persons/``).

posthog/api/cohort.py ``CohortViewSet.persons``: pages of ``limit`` rows cut from ClickHouse
and then stripped of persons missing from Postgres, so pages can be short or empty while
``next`` is still set; the paginator follows ``next`` until it is null. Needs the scopes
``cohort:read`` and ``person:read``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from tap_posthog.streams import CohortsStream, _ListStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class CohortPeopleStream(_ListStream):
    """One record per (cohort, person): the person as PostHog renders it, plus ``cohort_id``."""

    name = "cohort_people"
    parent_stream_type = CohortsStream
    primary_keys: ClassVar[tuple[str, ...]] = ("cohort_id", "id")
    replication_key = None
    endpoint_class = "analytics"

    @property
    def path(self) -> str:  # type: ignore[override]
        """The members of the cohort in the context (its project and id)."""
        return "/api/projects/{project_id}/cohorts/{cohort_id}/persons/"

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Add ``cohort_id`` from the context."""
        assert context is not None
        row["cohort_id"] = context["cohort_id"]
        return super().post_process(row, context)

    def record_key(self, record: dict[str, Any]) -> Any:
        """A person appears once per cohort."""
        return record.get("id")
