"""Persons and ``person_distinct_ids`` from HogQL, read whole at a cost linear in their number.

PostHog's REST persons list re-aggregates the team's whole person table on every
``LIMIT/OFFSET`` page (O(n²)), and skips a person when one is deleted mid-read. PostHog's
docs point bulk reads to the HogQL ``persons`` table instead (posthog/api/person.py;
posthog/hogql/database/schema/persons.py and person_distinct_ids.py). Both tables here are
read with a keyset on their sort key (``persons.id``, ``person_distinct_ids.distinct_id``).

A person's ``distinct_ids`` come from one pass over ``person_distinct_ids`` held in a
temporary index (:mod:`tap_posthog.distinct_ids`); persons that pass may have missed (created
shortly before or during the read) get theirs from a query on their ids. Distinct ids that move
between existing persons during the read (a merge) show in ``persons`` on the next run, and in
``person_distinct_ids`` at once. ``name`` follows PostHog's
``get_person_name`` with the project's ``person_display_name_properties``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_posthog.distinct_ids import DistinctIdIndex, ordered
from tap_posthog.errors import PostHogAPIError
from tap_posthog.hogql import hogql_query
from tap_posthog.keyset import MAX_LIMIT, HogQLStream, KeysetQuery
from tap_posthog.streams import FULL_TABLE, announce_complete_read
from tap_posthog.timeutil import hogql_utc_text, to_utc_string, utc_now

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk.helpers.types import Context

#: ``PERSON_DEFAULT_DISPLAY_NAME_PROPERTIES`` (posthog/constants.py).
DEFAULT_DISPLAY_NAME_PROPERTIES = ("email", "name", "username")
PERSONS = KeysetQuery(
    "persons", ("id", "created_at", "properties", "is_identified"), "id", key_cast="toUUID"
)
DISTINCT_IDS = KeysetQuery("person_distinct_ids", ("distinct_id", "person_id"), "distinct_id")
#: Persons whose distinct ids are looked up by id in one query.
LOOKUP_BATCH = 2000
#: Persons created this long before the read started, or later, get their distinct ids by id:
#: the distinct-id pass may have seen only some of them (margin for clock skew).
CREATION_MARGIN = timedelta(minutes=15)
_json_decode = msgspec.json.Decoder().decode


def person_name(
    properties: dict[str, Any], distinct_ids: list[str], person_id: str, display: Iterable[str]
) -> str:
    """PostHog's ``get_person_name_helper`` (posthog/api/person.py).

    The first truthy display property, else the first identified distinct id (``distinct_ids``
    are ordered identified first), else the person's id (PostHog's integer pk is not in HogQL).
    """
    for key in display:
        value = (properties or {}).get(key)
        if value:
            return value if isinstance(value, str) else msgspec.json.encode(value).decode()
    if distinct_ids:
        return distinct_ids[0]
    return person_id


def lookup_query(person_ids: list[str]) -> dict[str, Any]:
    """Distinct ids of a few persons (their current ones, as the table resolves them)."""
    names = [f"p{i}" for i in range(len(person_ids))]
    marks = ", ".join(f"toUUID({{{name}}})" for name in names)
    text = (
        "SELECT distinct_id, person_id\nFROM person_distinct_ids\n"
        f"WHERE person_id IN ({marks})\nORDER BY distinct_id ASC\nLIMIT {MAX_LIMIT}"
    )
    return hogql_query(text, dict(zip(names, person_ids, strict=True)))


class _WholeTableStream(HogQLStream):
    """A HogQL table emitted whole every run (no bookmark): Singer ``FULL_TABLE``.

    Like the REST list streams (``streams._ListStream``), a complete read is announced with a
    second ``ACTIVATE_VERSION`` when ``emit_activate_version_messages`` is on, so omniload can
    remove rows that PostHog no longer has.
    """

    replication_key = None
    reads_whole: ClassVar[bool] = True
    #: Records are built with their final types: no per-record conformance (it walked every
    #: person's properties and took a third of the tap's time).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Declare the stream ``FULL_TABLE`` (a catalog may still override it)."""
        super().__init__(*args, **kwargs)
        self.forced_replication_method = FULL_TABLE

    @property
    def page_size(self) -> int:
        """Rows per query page."""
        return int(self.config.get("persons_page_size", MAX_LIMIT))

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Every row of one project's table, then the complete-read announcement."""
        self.current_project = self.project_of(context)
        with self.optional_access(context):
            yield from self.read_whole(context)
        announce_complete_read(self)

    def read_whole(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Every row of the table (subclasses)."""
        raise NotImplementedError


class PersonDistinctIdsStream(_WholeTableStream):
    """Every distinct id and the person it belongs to now (follows merges)."""

    name = "person_distinct_ids"
    primary_keys: ClassVar[tuple[str, ...]] = ("project_id", "distinct_id")
    query_name = "tap-posthog person_distinct_ids"

    def read_whole(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """One keyset pass over ``person_distinct_ids``."""
        project_id = self.current_project
        for index, rows in self.keyset_rows(DISTINCT_IDS, self.page_size):
            i_distinct, i_person = index["distinct_id"], index["person_id"]
            for row in rows:
                yield {
                    "distinct_id": row[i_distinct],
                    "person_id": str(row[i_person]),
                    "project_id": project_id,
                }


class PersonsStream(_WholeTableStream):
    """Every person (not deleted), with its distinct ids and display name."""

    name = "persons"
    primary_keys: ClassVar[tuple[str, ...]] = ("id",)
    query_name = "tap-posthog persons"

    def read_whole(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Index distinct ids, then read persons by id, completing each with its ids."""
        index = DistinctIdIndex()
        # A person created while the distinct-id pass ran may have been seen only in part.
        fresh_from = to_utc_string(utc_now() - CREATION_MARGIN)
        try:
            for cols, rows in self.keyset_rows(DISTINCT_IDS, self.page_size):
                i_person, i_distinct = cols["person_id"], cols["distinct_id"]
                index.add((str(row[i_person]), row[i_distinct]) for row in rows)
            display = self._display_name_properties()
            unseen: list[dict[str, Any]] = []
            for cols, rows in self.keyset_rows(PERSONS, self.page_size):
                i_id = cols["id"]
                known = index.get_many([str(row[i_id]) for row in rows])
                for i, row in enumerate(rows):
                    # Each row is released once its record is built: a page of 50,000
                    # persons is never held as rows and records at once.
                    rows[i] = None
                    person = self._person(cols, row)
                    created = person["created_at"]
                    recent = created is None or created >= fresh_from
                    distinct_ids = None
                    if not recent:
                        distinct_ids = known.get(person["id"]) or index.get(person["id"])
                    if distinct_ids is None:
                        unseen.append(person)
                        if len(unseen) >= LOOKUP_BATCH:
                            yield from self._complete_unseen(unseen, display)
                            unseen = []
                        continue
                    yield _complete(person, distinct_ids, display)
            yield from self._complete_unseen(unseen, display)
        finally:
            index.close()

    def _person(self, cols: dict[str, int], row: list[Any]) -> dict[str, Any]:
        person_id = str(row[cols["id"]])
        props = row[cols["properties"]]
        if isinstance(props, str):
            props = _json_decode(props) if props else {}
        created = row[cols["created_at"]]
        identified = row[cols["is_identified"]]
        return {
            "id": person_id,
            "uuid": person_id,
            "properties": props,
            "is_identified": None if identified is None else bool(identified),
            "created_at": hogql_utc_text(created) if created else None,
            "project_id": self.current_project,
        }

    def _complete_unseen(
        self, persons: list[dict[str, Any]], display: tuple[str, ...]
    ) -> Iterator[dict[str, Any]]:
        """Persons the distinct-id pass did not see: look their ids up by person id."""
        if not persons:
            return
        found: dict[str, list[str]] = {}
        columns, rows = self.run_query(lookup_query([p["id"] for p in persons]))
        index = {name: i for i, name in enumerate(columns)}
        for row in rows:
            found.setdefault(str(row[index["person_id"]]), []).append(row[index["distinct_id"]])
        for person in persons:
            yield _complete(person, ordered(found.get(person["id"], [])), display)

    def _display_name_properties(self) -> tuple[str, ...]:
        """The project's ``person_display_name_properties`` (PostHog's default when unset)."""
        url = f"{self.url_base}/api/projects/{self.current_project}/"
        prepared = self.build_prepared_request(method="GET", url=url)
        self.endpoint_class = "crud"
        try:
            response = self.send(prepared)
        except PostHogAPIError as exc:
            self.logger.warning(
                "persons: cannot read the project's display name properties (%s); "
                "using PostHog's default %s",
                exc,
                list(DEFAULT_DISPLAY_NAME_PROPERTIES),
            )
            return DEFAULT_DISPLAY_NAME_PROPERTIES
        finally:
            del self.endpoint_class
        chosen = (response.json_body or {}).get("person_display_name_properties")  # type: ignore[attr-defined]
        if isinstance(chosen, list) and chosen:
            return tuple(str(key) for key in chosen)
        return DEFAULT_DISPLAY_NAME_PROPERTIES


def _complete(
    person: dict[str, Any], distinct_ids: list[str], display: tuple[str, ...]
) -> dict[str, Any]:
    person["distinct_ids"] = distinct_ids
    person["name"] = person_name(person["properties"], distinct_ids, person["id"], display)
    return person
