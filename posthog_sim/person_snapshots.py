"""Person properties as events carry them: one stored text per version, a version per event.

PostHog's ingestion writes each event with its person's properties as they were when the event
was ingested (the events table's ``person_properties`` column, JSON text; ``'{}'`` for a
personless event: posthog/models/event/sql.py and the plugin-server's ``createEvent``). This
module keeps those versions for the event store's person pool.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def stored_json(properties: Mapping[str, Any]) -> str:
    """Properties as PostHog stores them (``JSON.stringify``: compact, UTF-8)."""
    return json.dumps(dict(properties), ensure_ascii=False, separators=(",", ":"))


class PersonSnapshots:
    """Every version of the pool persons' properties, and which one is current per person."""

    def __init__(
        self, pool: Sequence[tuple[str, str]], properties: Sequence[Mapping[str, Any]]
    ) -> None:
        """Versions start as ``properties`` (same order as ``pool``; missing ones are empty)."""
        props = list(properties)[: len(pool)]
        props += [{}] * (len(pool) - len(props))
        #: Every version seen, as stored JSON text.
        self.texts: list[str] = [stored_json(p) for p in props]
        #: Pool index -> index into ``texts`` of the person's current properties.
        self._current = np.arange(len(pool), dtype=np.int64)
        self._slots: dict[str, list[int]] = {}
        for k, (person_id, _) in enumerate(pool):
            self._slots.setdefault(person_id, []).append(k)

    def current(self, pool_index: np.ndarray) -> np.ndarray:
        """Version indexes (into ``texts``) current now for the given pool persons."""
        return self._current[pool_index].astype(np.int32)

    def update(self, person_id: str, properties: Mapping[str, Any]) -> None:
        """A person's properties changed: a new version becomes current."""
        slots = self._slots.get(person_id)
        if not slots:
            return
        self.texts.append(stored_json(properties))
        self._current[slots] = len(self.texts) - 1
