"""``python -m benchmarks.run --shape ...``: tap-posthog over differently spread events.

For each shape (``posthog_sim.shapes``) a fresh simulator holds the same number of events;
``tap-posthog`` reads them once (a first full load of ``events``). Reported per shape, from the
simulator's request log: median rows per events data page, requests, and the rows ClickHouse
read per row delivered. Results: ``results-shapes.json``, rendered as a section of
``results.md``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import phases
from benchmarks.sim import SimProcess
from posthog_sim.shapes import SHAPES

TARGET_PAGE_ROWS = 20_000
TARGET_READ_RATIO = 1.5


def run(shapes: list[str], events: int, page_size: int, seed: int) -> list[dict[str, Any]]:
    """One full load per shape; returns one summary per shape."""
    out = []
    for shape in shapes:
        print(f"shape {shape}: seeding {events:,} events", file=sys.stderr, flush=True)
        with SimProcess(events, seed, shape) as sim, tempfile.TemporaryDirectory() as tmp:
            result = phases.tap_alone(sim, events, page_size, Path(tmp))
        phases.check_complete(result, events)
        ratio = result.rows_read / result.rows if result.rows_read is not None else None
        summary = {
            "shape": shape,
            "rows": result.rows,
            "requests": result.requests,
            "data_pages": sum(1 for n in result.page_rows if n),
            "empty_windows": sum(1 for n in result.page_rows if not n),
            "median_page_rows": result.median_page_rows,
            "rows_read": result.rows_read,
            "rows_read_per_row": round(ratio, 3) if ratio is not None else None,
            "wall_s": result.wall_s,
            "page_rows": result.page_rows,
        }
        print(f"  {summary}", file=sys.stderr, flush=True)
        out.append(summary)
    return out


def markdown(result: dict[str, Any]) -> list[str]:
    """The shapes section of results.md."""
    lines = [
        "## Data shapes",
        "",
        f"`{result['command']}` on {result['date']}, code at commit "
        f"`{result['code']['commit']}`: a first full load of {result['events']:,} events by "
        f"`tap-posthog` (pages of {result['page_size']:,} rows), once per shape, each on a "
        "fresh simulator. Shapes (`posthog_sim/shapes.py`): uniform over 30 days; recent "
        "(15 % in the last day, 40 % in the rest of the last month, 45 % over the year before); "
        "bursts (40 % over 90 days, three bursts of 20 % each within five minutes); gaps (a "
        "year of 30-day months, five of them empty). Rows read: ClickHouse's own count for "
        "every query of the load (first-event search included), from the simulator's log. "
        "Data pages: queries that returned rows (the median is theirs); empty windows: those "
        "that returned none (the first-event search below the first event, months without "
        "events), which read nothing.",
        "",
        "| shape | rows | requests | data pages | empty windows | median rows/page "
        "| ClickHouse rows read | read per row delivered | wall s | targets met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in result["shapes"]:
        ratio = s["rows_read_per_row"]
        pages_ok = (s["median_page_rows"] or 0) >= TARGET_PAGE_ROWS
        read_ok = ratio is not None and ratio <= TARGET_READ_RATIO
        met = "yes" if pages_ok and read_ok else "**no**"
        read = f"{s['rows_read']:,}" if s["rows_read"] is not None else "-"
        lines.append(
            f"| {s['shape']} | {s['rows']:,} | {s['requests']} | {s['data_pages']} "
            f"| {s.get('empty_windows', 0)} "
            f"| {s['median_page_rows'] or 0:,.0f} "
            f"| {read} "
            f"| {f'{ratio:.2f}' if ratio is not None else '-'} | {s['wall_s']:.2f} | {met} |"
        )
    lines += [
        "",
        f"Targets: median rows per data page >= {TARGET_PAGE_ROWS:,}; ClickHouse rows read "
        f"<= {TARGET_READ_RATIO} per row delivered.",
        "",
        "Rows per events query, in order (0: an empty window):",
        "",
    ]
    lines += [
        f"- {s['shape']}: " + ", ".join(f"{n:,}" for n in s["page_rows"]) for s in result["shapes"]
    ]
    return lines


__all__ = ["SHAPES", "markdown", "run"]
