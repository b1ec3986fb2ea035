"""A person's distinct ids, from one pass over ``person_distinct_ids``, looked up per person.

ClickHouse keeps ``person_distinct_id2`` sorted by distinct id, so the only read whose cost is
linear in the table is one keyset pass on ``distinct_id``; asking for the distinct ids of a
page of persons would aggregate the whole table once per page. The pass goes into a
temporary SQLite database (on disk, unlinked by SQLite as soon as it is opened, so nothing
stays behind even after a kill) with a small page cache, keeping memory flat at any size.

Persons arrive ordered by id the way ClickHouse orders UUIDs (second half first), so the index
is kept in that order and a page of persons is answered by one range scan. The order only
makes lookups fast: a person the range does not contain is looked up on its own.
"""

from __future__ import annotations

import re
import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

#: PostHog's ``posthog/utils.py`` ``ANONYMOUS_REGEX``: generated (anonymous) distinct ids.
_ANONYMOUS = re.compile(r"^([a-z0-9]+\-){4}([a-z0-9]+)$")
_CACHE_KIB = 16 * 1024


def is_anonymous_id(distinct_id: str) -> bool:
    """True for a generated distinct id (PostHog's ``is_anonymous_id``)."""
    return distinct_id.count("-") == 4 and bool(_ANONYMOUS.match(distinct_id))


def ordered(distinct_ids: Iterable[str]) -> list[str]:
    """Identified distinct ids first (as PostHog's person serializer), then by value."""
    items = list(distinct_ids)
    if len(items) > 1:
        items.sort(key=lambda d: (is_anonymous_id(d), d))
    return items


def order_key(person_id: str) -> str:
    """An injective key that sorts UUID text as ClickHouse sorts UUIDs (second half first)."""
    p = person_id
    if len(p) == 36 and p[8] == p[13] == p[18] == p[23] == "-":
        return "u" + p[19:23] + p[24:] + p[:8] + p[9:13] + p[14:18]
    return "~" + p


class DistinctIdIndex:
    """``person_id -> distinct ids`` held in a temporary SQLite database."""

    def __init__(self) -> None:
        """Open an empty index."""
        # "" = a private temporary database file, deleted when closed.
        self._con = sqlite3.connect("")
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            f"cache_size=-{_CACHE_KIB}",
            "temp_store=FILE",
        ):
            self._con.execute(f"PRAGMA {pragma}")
        self._con.execute("CREATE TABLE pdi (k TEXT NOT NULL, distinct_id TEXT NOT NULL)")
        self._indexed = False

    def add(self, rows: Iterable[tuple[str, str]]) -> None:
        """Add ``(person_id, distinct_id)`` pairs (before the first lookup)."""
        self._con.executemany(
            "INSERT INTO pdi VALUES (?, ?)", ((order_key(p), d) for p, d in rows)
        )

    def _index(self) -> None:
        """Rewrite the rows clustered on the key (sorted once), so a range scan reads in order."""
        if not self._indexed:
            con = self._con
            con.execute(
                "CREATE TABLE by_k (k TEXT NOT NULL, distinct_id TEXT NOT NULL, "
                "PRIMARY KEY (k, distinct_id)) WITHOUT ROWID"
            )
            con.execute("INSERT OR IGNORE INTO by_k SELECT k, distinct_id FROM pdi ORDER BY k")
            con.execute("DROP TABLE pdi")
            self._indexed = True

    def get(self, person_id: str) -> list[str] | None:
        """The person's distinct ids (ordered), or None when the pass saw none."""
        self._index()
        found = self._con.execute(
            "SELECT distinct_id FROM by_k WHERE k = ?", (order_key(person_id),)
        ).fetchall()
        return ordered(d for (d,) in found) if found else None

    def get_many(self, person_ids: list[str]) -> dict[str, list[str]]:
        """Distinct ids of the persons that have some, from one range scan when they are sorted."""
        if not person_ids:
            return {}
        self._index()
        keys = [order_key(p) for p in person_ids]
        wanted = dict(zip(keys, person_ids, strict=True))
        grouped: dict[str, list[str]] = {}
        rows = self._con.execute(
            "SELECT k, distinct_id FROM by_k WHERE k BETWEEN ? AND ?", (min(keys), max(keys))
        )
        for key, distinct_id in rows:
            if key in wanted:
                grouped.setdefault(wanted[key], []).append(distinct_id)
        return {person: ordered(ids) for person, ids in grouped.items()}

    def close(self) -> None:
        """Delete the database."""
        self._con.close()
