"""The PostHog source tables omniload knows: stream, primary key, incremental key, strategy."""

from __future__ import annotations

from dataclasses import dataclass

from omniload.errors import UsageError


@dataclass(frozen=True)
class TableSpec:
    """One source table and how it is loaded."""

    name: str
    stream: str
    primary_key: tuple[str, ...]
    incremental_key: str | None
    strategy: str

    @property
    def immutable(self) -> bool:
        """Rows never change once written (events): append never duplicates an id."""
        return self.stream == "events"

    @property
    def default_dest_table(self) -> str:
        """Destination table name when ``--dest-table`` is not given."""
        return self.name.replace(":", "_")


def _spec(
    name: str,
    key: str | None,
    strategy: str = "merge",
    stream: str | None = None,
    primary_key: tuple[str, ...] = ("id",),
) -> TableSpec:
    return TableSpec(name, stream or name, primary_key, key, strategy)


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        _spec("persons", None),
        _spec("person_distinct_ids", None, primary_key=("project_id", "distinct_id")),
        _spec("feature_flags", "updated_at"),
        _spec("events", "timestamp", "append"),
        _spec("cohorts", "last_calculation"),
        _spec("event_definitions", "last_updated_at"),
        _spec("property_definitions:event", "updated_at", stream="event_property_definitions"),
        _spec("property_definitions:person", "updated_at", stream="person_property_definitions"),
        _spec("property_definitions:session", "updated_at", stream="session_property_definitions"),
        _spec("annotations", "updated_at"),
        _spec("projects", None),
    )
}

STRATEGIES = ("replace", "append", "merge")


def resolve_table(name: str) -> TableSpec:
    """Return the spec for ``name`` or fail with the list of valid tables.

    Raises:
        UsageError: The name is empty, unknown, or ``property_definitions`` without a suffix.
    """
    key = name.strip()
    if key in TABLES:
        return TABLES[key]
    valid = ", ".join(sorted(TABLES))
    if key == "property_definitions" or key.startswith("property_definitions:"):
        raise UsageError(
            f"source table {name!r} needs a suffix: property_definitions:event, "
            "property_definitions:person or property_definitions:session"
        )
    if not key:
        raise UsageError(f"--source-table is required; valid tables: {valid}")
    raise UsageError(f"unknown source table {name!r}; valid tables: {valid}")
