"""The PostHog source tables omniload knows, derived from the tap's catalog.

Each stream of the tap's catalog (``omniload.catalog``: what ``tap-posthog --discover``
prints) is one table: its name, primary key and replication key come from the catalog entry,
so a stream added to the tap is a table here with no change. Two things are omniload's own:
``*_property_definitions`` streams are named ``property_definitions:<type>`` (ingestr's names),
and streams whose rows never change once written (events) load by ``append``, the others by
``merge``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from omniload.errors import UsageError

#: Streams whose records are immutable: loaded by append, skipping ids already loaded.
APPEND_STREAMS = frozenset({"events"})
_PROPERTY_DEFINITIONS = "_property_definitions"


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
        return self.stream in APPEND_STREAMS

    @property
    def default_dest_table(self) -> str:
        """Destination table name when ``--dest-table`` is not given."""
        return self.name.replace(":", "_")


def table_name(stream: str) -> str:
    """The omniload name of a tap stream (``event_property_definitions`` -> ``...:event``)."""
    if stream.endswith(_PROPERTY_DEFINITIONS):
        return f"property_definitions:{stream[: -len(_PROPERTY_DEFINITIONS)]}"
    return stream


def spec_for(entry: dict[str, Any]) -> TableSpec:
    """The table of one catalog entry (key and replication key as the tap declares them)."""
    stream = entry["tap_stream_id"]
    top = next((m["metadata"] for m in entry.get("metadata", []) if m["breadcrumb"] == []), {})
    return TableSpec(
        name=table_name(stream),
        stream=stream,
        primary_key=tuple(entry.get("key_properties") or top.get("table-key-properties") or ()),
        incremental_key=entry.get("replication_key") or top.get("replication-key") or None,
        strategy="append" if stream in APPEND_STREAMS else "merge",
    )


@functools.cache
def tables() -> dict[str, TableSpec]:
    """Every table, by name, in the tap's stream order (reads the catalog on first use)."""
    from omniload.catalog import tap_catalog

    return {spec.name: spec for spec in map(spec_for, tap_catalog()["streams"])}


def __getattr__(name: str) -> Any:
    """``TABLES`` is computed on first access, so ``omniload --help`` stays fast."""
    if name == "TABLES":
        return tables()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


STRATEGIES = ("replace", "append", "merge")


def resolve_table(name: str) -> TableSpec:
    """Return the spec for ``name`` or fail with the list of valid tables.

    Raises:
        UsageError: The name is empty, unknown, or ``property_definitions`` without a suffix.
    """
    known = tables()
    key = name.strip()
    if key in known:
        return known[key]
    valid = ", ".join(sorted(known))
    if key == "property_definitions" or key.startswith("property_definitions:"):
        suffixes = ", ".join(n for n in known if n.startswith("property_definitions:"))
        raise UsageError(f"source table {name!r} needs a suffix: {suffixes}")
    if not key:
        raise UsageError(f"--source-table is required; valid tables: {valid}")
    raise UsageError(f"unknown source table {name!r}; valid tables: {valid}")
