"""Progress reporters: ``interactive`` (live line), ``log`` (a line every few seconds), ``json``."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

MODES = ("interactive", "log", "json")


def default_mode(stream: TextIO | None = None) -> str:
    """``interactive`` on a terminal, ``log`` otherwise."""
    stream = stream or sys.stderr
    try:
        return "interactive" if stream.isatty() else "log"
    except (AttributeError, ValueError):
        return "log"


def _rate(rows: int, elapsed: float) -> float:
    return rows / elapsed if elapsed > 0 else 0.0


class Reporter:
    """Base reporter: ``start``, ``progress``, ``end``, ``error``; subclasses format them."""

    interval = 3.0

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        """Write machine output to ``out`` (stdout) and human output to ``err`` (stderr)."""
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.started = time.monotonic()

    def elapsed(self) -> float:
        """Seconds since ``start``."""
        return time.monotonic() - self.started

    def start(self, info: dict[str, Any]) -> None:
        """Report the run's plan; resets the clock."""
        self.started = time.monotonic()

    def progress(self, rows: int) -> None:
        """Report rows read so far."""

    def phase(self, name: str) -> None:
        """Report that the run entered a phase: ``load`` (tap and target run), ``apply``."""

    def note(self, message: str) -> None:
        """Report a wait or retry (a busy destination, a locked file)."""

    def end(self, summary: dict[str, Any]) -> None:
        """Report the final summary."""

    def error(self, message: str) -> None:
        """Report a failure (the CLI also prints it to stderr)."""


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    return [
        f"Loaded {summary['rows_loaded']} rows into {summary['dest_table']} "
        f"({summary['rows']} read) in {summary['duration']:.1f}s",
        f"Bookmark: {summary.get('bookmark') or '(none saved)'}",
    ]


class LogReporter(Reporter):
    """A plain line on stderr every few seconds and a summary at the end."""

    def _line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"{stamp} omniload: {text}", file=self.err, flush=True)

    def start(self, info: dict[str, Any]) -> None:
        """Log the plan."""
        super().start(info)
        self._line(
            f"loading {info['source_table']} from {info['source']} into {info['dest_table']} "
            f"({info['strategy']})"
        )

    def progress(self, rows: int) -> None:
        """Log rows, rows/s and elapsed time."""
        elapsed = self.elapsed()
        self._line(f"{rows} rows, {_rate(rows, elapsed):.0f} rows/s, {elapsed:.0f}s elapsed")

    def phase(self, name: str) -> None:
        """Log the apply step (the load is shown by the progress lines)."""
        if name == "apply":
            self._line("applying the staged rows")

    def note(self, message: str) -> None:
        """Log the wait or retry."""
        self._line(message)

    def end(self, summary: dict[str, Any]) -> None:
        """Log the summary."""
        for line in _summary_lines(summary):
            self._line(line)


class InteractiveReporter(Reporter):
    """A live, rewritten line on the terminal."""

    interval = 0.2

    def progress(self, rows: int) -> None:
        """Rewrite the live line."""
        elapsed = self.elapsed()
        text = f"{rows:,} rows | {_rate(rows, elapsed):,.0f} rows/s | {elapsed:.1f}s"
        print(f"\r\x1b[K{text}", end="", file=self.err, flush=True)

    def start(self, info: dict[str, Any]) -> None:
        """Show what runs."""
        super().start(info)
        print(
            f"Loading {info['source_table']} -> {info['dest_table']} ({info['strategy']})",
            file=self.err,
            flush=True,
        )

    def note(self, message: str) -> None:
        """Print the wait or retry on its own line."""
        self._clear()
        print(message, file=self.err, flush=True)

    def _clear(self) -> None:
        print("\r\x1b[K", end="", file=self.err, flush=True)

    def end(self, summary: dict[str, Any]) -> None:
        """Replace the live line with the summary."""
        self._clear()
        for line in _summary_lines(summary):
            print(line, file=self.err, flush=True)

    def error(self, message: str) -> None:
        """Clear the live line before the error is printed."""
        self._clear()


class JsonReporter(Reporter):
    """One JSON object per line on stdout."""

    interval = 1.0

    def _emit(self, obj: dict[str, Any]) -> None:
        print(json.dumps(obj, default=str), file=self.out, flush=True)

    def start(self, info: dict[str, Any]) -> None:
        """Emit ``{"type": "start", ...}``."""
        super().start(info)
        self._emit({"type": "start", **info})

    def progress(self, rows: int) -> None:
        """Emit ``{"type": "progress", ...}``."""
        elapsed = self.elapsed()
        self._emit(
            {
                "type": "progress",
                "rows": rows,
                "rows_per_sec": round(_rate(rows, elapsed), 1),
                "elapsed": round(elapsed, 3),
            }
        )

    def phase(self, name: str) -> None:
        """Emit ``{"type": "phase", "phase": name}``."""
        self._emit({"type": "phase", "phase": name})

    def note(self, message: str) -> None:
        """Emit ``{"type": "note", "message": ...}``."""
        self._emit({"type": "note", "message": message})

    def end(self, summary: dict[str, Any]) -> None:
        """Emit ``{"type": "end", ...}``."""
        self._emit({"type": "end", **summary})

    def error(self, message: str) -> None:
        """Emit ``{"type": "error", "message": ...}``."""
        self._emit({"type": "error", "message": message})


def make_reporter(mode: str, out: TextIO | None = None, err: TextIO | None = None) -> Reporter:
    """Build the reporter for ``mode``."""
    cls = {"interactive": InteractiveReporter, "log": LogReporter, "json": JsonReporter}[mode]
    return cls(out, err)


class Ticker:
    """Background thread calling ``reporter.progress(count())`` every ``reporter.interval``."""

    def __init__(self, reporter: Reporter, count: Callable[[], int]) -> None:
        """Prepare the ticker; call ``start`` then ``stop``."""
        self.reporter = reporter
        self.count = count
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="omniload-progress", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.reporter.interval):
            self.reporter.progress(self.count())

    def start(self) -> None:
        """Start ticking."""
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking and report the final count once."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
            self.reporter.progress(self.count())
