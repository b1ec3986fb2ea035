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


#: Key of rows whose id repeats across projects: client-made event uuids, organisation-wide
#: annotations listed in every project, virtual ``$builtin_*`` property definitions.
_IN_PROJECT = ("project_id", "id")

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        _spec("persons", "last_seen_at"),
        _spec("feature_flags", "updated_at"),
        _spec("events", "timestamp", "append", primary_key=_IN_PROJECT),
        _spec("cohorts", "last_calculation"),
        _spec("event_definitions", "last_updated_at"),
        *(
            _spec(
                f"property_definitions:{kind}",
                "updated_at",
                stream=f"{kind}_property_definitions",
                primary_key=_IN_PROJECT,
            )
            for kind in ("event", "person", "session")
        ),
        _spec("annotations", "updated_at", primary_key=_IN_PROJECT),
        _spec("projects", None),
        _spec("insights", "last_modified_at"),
        _spec("dashboards", None),
        _spec("actions", None),
        _spec("experiments", "updated_at"),
        _spec("surveys", None),
        _spec("group_types", None, primary_key=("project_id", "group_type_index")),
        _spec("groups", None, primary_key=("project_id", "group_type_index", "group_key")),
        _spec("session_recordings", "start_time", primary_key=("project_id", "id")),
        _spec("cohort_people", None, primary_key=("cohort_id", "id")),
        _spec("sessions", "start_timestamp", primary_key=("project_id", "session_id")),
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
