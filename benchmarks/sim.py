"""The simulator as a separate process, and its ``GET /_sim/stats`` request log."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from types import TracebackType
from typing import Any

from benchmarks.procs import TICK

DATA_QUERY = "SELECT uuid"


@dataclass(frozen=True)
class Requests:
    """What the simulator served between two log positions."""

    total: int
    by_path: dict[str, int]
    #: Row counts of the events data queries (HogQL ``SELECT uuid, ...``), in order; 0 for an
    #: empty window (the first-event search's windows below the first event read nothing).
    page_rows: list[int]
    #: ClickHouse rows read by every query, when the simulator reports them.
    rows_read: int | None = None

    @property
    def rows(self) -> int:
        """Rows sent in data pages."""
        return sum(self.page_rows)

    @property
    def median_page_rows(self) -> float | None:
        """Median rows per data page (a query that returned rows; empty windows apart)."""
        pages = [n for n in self.page_rows if n]
        return median(pages) if pages else None


class SimProcess:
    """``python -m posthog_sim`` with N events, stopped with SIGTERM on exit."""

    def __init__(
        self, events: int, seed: int = 1, shape: str = "uniform", persons: int | None = None
    ) -> None:
        """Start the simulator (events spread as ``shape``) and wait for its JSON line."""
        more = ["--persons", str(persons)] if persons is not None else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "posthog_sim", "--port", "0", "--seed", str(seed),
             "--events", str(events), "--shape", shape, *more],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        )  # fmt: skip
        try:
            info = self._read_info()
        except BaseException:
            self.stop()
            raise
        self.base_url: str = info["base_url"]
        self.api_key: str = info["api_key"]
        self.project_id: int = int(info["project_id"])
        self.position = 0
        # Keep reading stdout (progress bars) so the simulator never blocks on a full pipe.
        threading.Thread(target=self._drain, name="sim-stdout", daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def _read_info(self) -> dict[str, Any]:
        """The simulator's JSON line (DuckDB may print a progress bar before it)."""
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            text = raw.decode(errors="replace")
            if '{"base_url"' in text:
                return json.loads(text[text.index('{"base_url"') :])  # type: ignore[no-any-return]
        self.proc.wait()
        raise RuntimeError(f"the simulator exited ({self.proc.returncode}) before serving")

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM, then kill after 10 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cpu_s(self) -> float:
        """CPU seconds the simulator has used so far."""
        text = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = text[text.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def mark(self) -> None:
        """Start counting requests from now."""
        self.position = self._stats(self.position)["total"]

    def requests_since_mark(self) -> Requests:
        """Requests served since :meth:`mark`."""
        entries = self._stats(self.position)["requests"]
        by_path: dict[str, int] = {}
        for entry in entries:
            by_path[entry[1]] = by_path.get(entry[1], 0) + 1
        pages = [e[3] for e in entries if (e[4] or "").startswith(DATA_QUERY)]
        read = [e[5] for e in entries if len(e) > 5 and e[5] is not None]
        return Requests(len(entries), by_path, pages, sum(read) if read else None)

    def _stats(self, since: int) -> dict[str, Any]:
        url = f"{self.base_url}/_sim/stats?since={since}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
