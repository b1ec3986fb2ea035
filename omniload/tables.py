"""The PostHog source tables omniload knows, derived from the tap's streams.

Each of ``tap_posthog.tap.STREAM_TYPES`` (the streams the tap's catalog lists) is one table:
its name, primary key and replication key come from the stream class, so a stream added to the
tap is a table here with no change. Two things are omniload's own: ``*_property_definitions``
streams are named ``property_definitions:<type>`` (ingestr's names), and streams whose rows never
change once written (events) load by ``append``, the others by ``merge``.
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


def spec_for(stream_class: Any) -> TableSpec:
    """The table of one tap stream class."""
    stream = stream_class.name
    return TableSpec(
        name=table_name(stream),
        stream=stream,
        primary_key=tuple(stream_class.primary_keys or ()),
        incremental_key=stream_class.replication_key or None,
        strategy="append" if stream in APPEND_STREAMS else "merge",
    )


@functools.cache
def tables() -> dict[str, TableSpec]:
    """Every table, by name, in the tap's stream order (imports the tap on first use)."""
    from tap_posthog.tap import STREAM_TYPES

    return {spec.name: spec for spec in map(spec_for, STREAM_TYPES)}


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
