"""The simulator's benchmark event shapes (posthog_sim.shapes) hold what they promise."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from posthog_sim import SimConfig, Simulator
from tap_posthog.timeutil import parse_datetime

N = 10_000


@pytest.fixture
def stamps_of():
    made = []

    def make(shape: str):
        sim = Simulator(SimConfig(n_events=N, event_shape=shape))
        made.append(sim)
        records = sim.truth.records("events")
        assert len({r["id"] for r in records}) == N
        return sim.data.anchor, [parse_datetime(r["timestamp"]) for r in records]

    yield make
    for sim in made:
        sim.close()


def test_recent_shape_has_a_heavy_recent_tail(stamps_of):
    anchor, stamps = stamps_of("recent")
    day = sum(anchor - timedelta(days=1) <= s < anchor for s in stamps)
    month = sum(anchor - timedelta(days=30) <= s < anchor - timedelta(days=1) for s in stamps)
    year = sum(anchor - timedelta(days=365) <= s < anchor - timedelta(days=30) for s in stamps)
    assert (day, month, year) == (N * 15 // 100, N * 40 // 100, N * 45 // 100)


def test_bursts_shape_has_three_bursts_within_five_minutes(stamps_of):
    _, stamps = stamps_of("bursts")
    per_5_minutes = Counter(s.replace(minute=s.minute - s.minute % 5, second=0, microsecond=0)
                            for s in stamps)  # fmt: skip
    # A burst may straddle two 5-minute slots: count the heaviest slot pairs.
    heavy = sorted(per_5_minutes.values(), reverse=True)[:6]
    assert sum(heavy) >= 3 * N // 5
    assert min(stamps) >= max(stamps) - timedelta(days=90)


def test_gaps_shape_leaves_five_empty_months(stamps_of):
    anchor, stamps = stamps_of("gaps")
    months = Counter(int((anchor - s) / timedelta(days=30)) for s in stamps)
    assert sorted(set(range(12)) - set(months)) == [2, 3, 5, 6, 9]
    assert sum(months.values()) == N


def test_unknown_shape_is_rejected():
    with pytest.raises(ValueError, match="event_shape"):
        SimConfig(event_shape="zigzag")
