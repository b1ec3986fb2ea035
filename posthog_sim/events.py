"""The events of the main project: seeded generation, the ground-truth store and its mutations.

Every column of an event is a function of its index ``i`` and the seed
(:mod:`posthog_sim.event_values`), except its times
(``timestamp``, ``created_at``, ``inserted_at``) and its person's properties (an index into
the snapshots below), which are kept per event in numpy arrays. So the ground truth is this
module's own data (about 36 bytes an event), independent of ClickHouse: the ClickHouse tables
(:mod:`posthog_sim.ch_tables`) are filled from the rows built here.

Persons on events: each event keeps the version of its person's properties current at its
ingestion (:mod:`posthog_sim.person_snapshots`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from .event_values import (
    EVENT_CUMULATIVE,
    EVENT_NAMES,
    elements_chain,
    event_properties,
    hash64,
    mod,
    uuid7_parts,
    uuid_text,
)
from .person_snapshots import PersonSnapshots
from .times import from_epoch_us, render_utc_fixed


@dataclass
class EventRows:
    """Materialised columns of some events (times as epoch microseconds, UTC)."""

    uuid: list[str]
    event: list[str]
    distinct_id: list[str]
    properties: list[str]
    timestamp_us: list[int]
    created_us: list[int]
    inserted_us: list[int]
    elements_chain: list[str]
    person_id: list[str]
    session_id: list[str]
    #: The person's properties at ingestion, JSON text as PostHog stores it.
    person_properties: list[str]

    def __len__(self) -> int:
        return len(self.uuid)


class EventStore:
    """The events of the main project as the ground truth holds them."""

    def __init__(
        self,
        seed: int,
        person_pool: Sequence[tuple[str, str]],
        person_properties: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Start empty.

        Args:
            seed: Dataset seed; every generated column derives from it.
            person_pool: ``(person_id, distinct_id)`` pairs events pick from.
            person_properties: The current properties of each pool person (same order);
                missing ones are empty.
        """
        self.seed = seed
        self._pool = list(person_pool) or [("00000000-0000-4000-8000-000000000000", "anonymous")]
        self._persons = PersonSnapshots(self._pool, person_properties)
        #: Per event: the version of its person's properties at ingestion (``_persons.texts``).
        self._snap = np.zeros(0, np.int32)
        self._idx = np.zeros(0, np.int64)
        self._ts = np.zeros(0, np.int64)
        self._created = np.zeros(0, np.int64)
        self._inserted = np.zeros(0, np.int64)
        self._next_idx = 0
        #: Events added to an existing session: store position -> ``$session_id``.
        self._session_of: dict[int, str] = {}

    # ------------------------------------------------------------------ generation
    def _h(self, x: np.ndarray, salt: int) -> np.ndarray:
        return hash64(x, self.seed, salt)

    def _append(self, ts: np.ndarray, created: np.ndarray, inserted: np.ndarray) -> np.ndarray:
        n = len(ts)
        idx = np.arange(self._next_idx, self._next_idx + n, dtype=np.int64)
        self._next_idx += n
        self._idx = np.concatenate([self._idx, idx])
        self._ts = np.concatenate([self._ts, ts.astype(np.int64)])
        self._created = np.concatenate([self._created, created.astype(np.int64)])
        self._inserted = np.concatenate([self._inserted, inserted.astype(np.int64)])
        snaps = self._persons.current(self._pool_index(idx))
        self._snap = np.concatenate([self._snap, snaps])
        return np.arange(len(self._idx) - n, len(self._idx))

    def _pool_index(self, i: np.ndarray) -> np.ndarray:
        """The pool person of events with index ``i`` (clusters of four share one)."""
        return mod(self._h(i // 4, 15), len(self._pool))

    def set_person_properties(self, person_id: str, properties: Mapping[str, Any]) -> None:
        """A person's properties changed: events ingested from now on carry the new ones."""
        self._persons.update(person_id, properties)

    def generate(
        self, n: int, lo_us: int, hi_us: int, ties: Sequence[tuple[int, int]]
    ) -> np.ndarray:
        """Generate the initial events with natural small ties plus the given tie groups.

        Args:
            n: Number of events.
            lo_us: Inclusive lower bound of timestamps (epoch microseconds, second aligned).
            hi_us: Exclusive upper bound; also the latest possible ``created_at``.
            ties: ``(size, timestamp_us)`` groups, taking the first event indexes.

        Returns:
            Positions of the new events in the store.
        """
        i = np.arange(self._next_idx, self._next_idx + n, dtype=np.int64)
        cl = i // 4
        span = max(1, hi_us - lo_us)
        hc, hg = self._h(cl, 11), self._h(cl, 12)
        h1, h2 = self._h(i, 13), self._h(i, 14)
        # Clusters of four events share a base time; a third of them sit exactly on it and the
        # cluster granularity (s, ms or us) is floored, which makes many small natural ties.
        jitter = np.where(mod(h1, 3) == 0, 0, mod(h2, 20_000_000))
        raw = lo_us + (mod(hc, span) + jitter) % span
        gran = np.array([1_000_000, 1000, 1], np.int64)[mod(hg, 3)]
        ts = raw - raw % gran
        start = 0
        for size, ts_us in ties:
            size = min(size, n - start)
            if size > 0:
                ts[start : start + size] = ts_us
                start += size
        late = mod(h2, 50) == 0
        lag = np.where(
            late, 3_600_000_000 + mod(h1, 259_200_000_000), 50_000 + mod(h1, 30_000_000)
        )
        created = np.minimum(ts + lag, max(hi_us - 1, int(ts.max(initial=lo_us))))
        created = np.maximum(created, ts)
        return self._append(ts, created, created)

    def add(self, n: int, lo_us: int, hi_us: int, created_us: int, inserted_us: int) -> np.ndarray:
        """Add ``n`` events with timestamps uniform in ``[lo_us, hi_us)``.

        Args:
            n: Number of events.
            lo_us: Inclusive lower bound (epoch microseconds).
            hi_us: Exclusive upper bound; ``lo_us + 1`` for a single tie timestamp.
            created_us: Ingestion time (``created_at``) of all of them.
            inserted_us: ClickHouse insertion time (``inserted_at``) of all of them.

        Returns:
            Positions of the new events in the store.
        """
        i = np.arange(self._next_idx, self._next_idx + n, dtype=np.int64)
        ts = lo_us + mod(self._h(i, 13), max(1, hi_us - lo_us))
        return self._append(ts, np.full(n, created_us), np.full(n, inserted_us))

    def add_in_session(
        self, session_id: str, n: int, lo_us: int, hi_us: int, now_us: int
    ) -> np.ndarray:
        """Add ``n`` events of ``session_id`` (a session that grows), ingested at ``now_us``."""
        positions = self.add(n, lo_us, hi_us, now_us, now_us)
        for position in positions.tolist():
            self._session_of[position] = session_id
        return positions

    def add_at(self, stamps_us: Sequence[int], created_us: int) -> np.ndarray:
        """Add one event at each given timestamp (all ingested at ``created_us``)."""
        ts = np.array(list(stamps_us), np.int64)
        return self._append(ts, np.full(len(ts), created_us), np.full(len(ts), created_us))

    # ------------------------------------------------------------------ materialisation
    def rows(self, positions: np.ndarray) -> EventRows:
        """Every column of the events at ``positions`` (store order)."""
        seed_h = self._h
        i = self._idx[positions]
        ts, created = self._ts[positions], self._created[positions]
        cl = i // 4
        hi, lo = self._uuid_parts(positions)
        event_code = np.searchsorted(EVENT_CUMULATIVE, mod(seed_h(i, 16), 100), side="right")
        pidx = self._pool_index(i)
        no_session = mod(seed_h(cl, 19), 100) < 12
        s_hi, s_lo = uuid7_parts(
            (ts // 3_600_000_000) * 3_600_000, mod(seed_h(cl, 11), 4096), seed_h(cl, 20)
        )
        h3, h4, h5, h6 = (
            mod(seed_h(x, s), 1 << 40).tolist() for x, s in ((i, 3), (cl, 4), (i, 5), (i, 6))
        )
        uuids = [uuid_text(a, b) for a, b in zip(hi.tolist(), lo.tolist(), strict=True)]
        events = [EVENT_NAMES[min(c, len(EVENT_NAMES) - 1)] for c in event_code.tolist()]
        people = [self._pool[p] for p in pidx.tolist()]
        sessions = [
            "" if skip else uuid_text(a, b)
            for skip, a, b in zip(no_session.tolist(), s_hi.tolist(), s_lo.tolist(), strict=True)
        ]
        if self._session_of:
            for k, position in enumerate(np.asarray(positions).tolist()):
                if position in self._session_of:
                    sessions[k] = self._session_of[position]
        props, chains = [], []
        for k, name in enumerate(events):
            person = people[k][1]
            props.append(event_properties(name, person, sessions[k], h3[k], h4[k], h5[k], h6[k]))
            chains.append(elements_chain(h5[k]) if name == "$autocapture" else "")
        return EventRows(
            uuid=uuids,
            event=events,
            distinct_id=[d for _, d in people],
            properties=props,
            timestamp_us=ts.tolist(),
            created_us=created.tolist(),
            inserted_us=self._inserted[positions].tolist(),
            elements_chain=chains,
            person_id=[p for p, _ in people],
            session_id=sessions,
            person_properties=[self._persons.texts[s] for s in self._snap[positions].tolist()],
        )

    def _uuid_parts(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        i, ts = self._idx[positions], self._ts[positions]
        return uuid7_parts(ts // 1000, mod(self._h(i, 17), 4096), self._h(i, 18))

    def batches(self, positions: np.ndarray, size: int = 100_000) -> Iterator[EventRows]:
        """:meth:`rows` in batches of at most ``size`` events."""
        for start in range(0, len(positions), size):
            yield self.rows(positions[start : start + size])

    def ingestion_order(self, positions: np.ndarray) -> np.ndarray:
        """``positions`` in the order PostHog's ingestion would insert them into ClickHouse.

        Ingestion inserts events as they arrive, in batches of recent events, so each part
        holds a narrow stretch of time until merges join neighbours (posthog/models/event/
        sql.py: the Kafka engine table feeding ``sharded_events``); batches spanning the whole
        year would put a boundary granule of every part in every query. By ``created_at``
        (when PostHog received the event), then timestamp.
        """
        return positions[np.lexsort((self._ts[positions], self._created[positions]))]

    def ordered(self) -> np.ndarray:
        """Positions in ClickHouse order: timestamp, then uuid (second half first)."""
        hi, lo = self._uuid_parts(np.arange(len(self._idx)))
        return np.lexsort((hi, lo, self._ts))

    # ------------------------------------------------------------------ ground truth
    def count(self) -> int:
        """Number of events."""
        return len(self._idx)

    def ids(self) -> list[str]:
        """Event uuids in ClickHouse order (timestamp, uuid)."""
        order = self.ordered()
        hi, lo = self._uuid_parts(order)
        return [uuid_text(a, b) for a, b in zip(hi.tolist(), lo.tolist(), strict=True)]

    def uuids(self, positions: np.ndarray) -> list[str]:
        """Uuids of the events at ``positions``."""
        hi, lo = self._uuid_parts(positions)
        return [uuid_text(a, b) for a, b in zip(hi.tolist(), lo.tolist(), strict=True)]

    def records(self, *, person_properties: bool = False) -> list[dict[str, Any]]:
        """Events as the tap should emit them (UTC datetimes, parsed properties).

        With ``person_properties``, each record also has the person's properties at ingestion
        (parsed; None where PostHog stored an empty text).
        """
        out: list[dict[str, Any]] = []
        for rows in self.batches(self.ordered()):
            out.extend(_truth_records(rows, person_properties=person_properties))
        return out

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """Smallest and largest event timestamps (aware UTC)."""
        if not len(self._ts):
            return None, None
        return from_epoch_us(int(self._ts.min())), from_epoch_us(int(self._ts.max()))


def _truth_records(rows: EventRows, *, person_properties: bool) -> Iterator[dict[str, Any]]:
    for k in range(len(rows)):
        record = {
            "id": rows.uuid[k],
            "event": rows.event[k],
            "distinct_id": rows.distinct_id[k],
            "timestamp": render_utc_fixed(from_epoch_us(rows.timestamp_us[k])),
            "created_at": render_utc_fixed(from_epoch_us(rows.created_us[k])),
            "properties": json.loads(rows.properties[k]),
            "elements_chain": rows.elements_chain[k],
            "person_id": rows.person_id[k],
            "session_id": rows.session_id[k],
        }
        if person_properties:
            text = rows.person_properties[k]
            record["person_properties"] = json.loads(text) if text else None
        yield record
