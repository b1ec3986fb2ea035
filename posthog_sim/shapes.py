"""Event time distributions for benchmarks (``SimConfig.event_shape``).

``uniform`` is the dataset's own generator (events spread evenly over ``events_days``, with
natural ties and the configured tie groups). The other shapes place ``n`` events as segments,
each uniform in its own time span, ending at the anchor:

- ``recent``: a heavy recent tail: 15 % in the last day, 40 % in the rest of the last 30 days,
  45 % over the 335 days before (a year in all).
- ``bursts``: 40 % spread over 90 days, plus three bursts of 20 % each within five minutes
  (75, 50 and 20 days back); at 1,000,000 events each burst holds 200,000.
- ``gaps``: a year of 30-day months, seven with events (equal shares) and five without.

Shares scale with ``n``; each segment is inserted on its own, as a batch of ingestion would be.
"""

from __future__ import annotations

SHAPES = ("uniform", "recent", "bursts", "gaps")
_DAY_US = 86_400_000_000
_GAP_MONTHS_ACTIVE = (11, 10, 8, 7, 4, 1, 0)  # months back from the anchor that hold events


def segments(shape: str, n: int, anchor_us: int) -> list[tuple[int, int, int]]:
    """``(count, lo_us, hi_us)`` segments of a non-uniform shape; counts sum to ``n``."""
    day = _DAY_US
    if shape == "recent":
        last_day, last_month = n * 15 // 100, n * 40 // 100
        return [
            (n - last_day - last_month, anchor_us - 365 * day, anchor_us - 30 * day),
            (last_month, anchor_us - 30 * day, anchor_us - day),
            (last_day, anchor_us - day, anchor_us),
        ]
    if shape == "bursts":
        burst = n // 5
        out = [(n - 3 * burst, anchor_us - 90 * day, anchor_us)]
        for days_back in (75, 50, 20):
            start = anchor_us - days_back * day + 5 * 3_600_000_000  # 05:00 past the anchor time
            out.append((burst, start, start + 300_000_000))
        return out
    if shape == "gaps":
        share, months = n // len(_GAP_MONTHS_ACTIVE), _GAP_MONTHS_ACTIVE
        out = []
        for i, back in enumerate(months):
            count = share if i < len(months) - 1 else n - share * (len(months) - 1)
            out.append((count, anchor_us - (back + 1) * 30 * day, anchor_us - back * 30 * day))
        return out
    raise ValueError(f"event_shape must be one of {SHAPES}")
