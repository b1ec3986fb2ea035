"""Run a command and measure it: wall time, and CPU seconds and peak RSS per process.

The direct child is reaped with ``os.wait4`` (exact CPU and peak RSS of the child, including
the descendants it waited for). Descendants (omniload's tap and target) are sampled every
100 ms from ``/proc``: ``utime + stime`` of ``/proc/<pid>/stat`` and ``VmHWM`` of
``/proc/<pid>/status``; the last values seen per process are kept.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

TICK = os.sysconf("SC_CLK_TCK")
POLL_S = 0.1


@dataclass
class ProcStats:
    """One process: label, CPU seconds (user + system), peak RSS in MB."""

    label: str
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0


@dataclass
class Measured:
    """One command run."""

    returncode: int
    wall_s: float
    procs: list[ProcStats] = field(default_factory=list)
    #: wait4 of the direct child: CPU seconds and peak RSS over it and its reaped children.
    tree_cpu_s: float = 0.0
    tree_peak_rss_mb: float = 0.0


def _read_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _read_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _label(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return f"pid {pid}"
    text = " ".join(argv)
    for needle, name in (
        ("tap-posthog", "tap"),
        ("tap_posthog", "tap"),
        ("target-duckdb", "target"),
        ("target_duckdb", "target"),
        ("omniload", "omniload"),
    ):
        if needle in text:
            return f"{name} --discover" if "--discover" in argv else name
    return Path(argv[0]).name or f"pid {pid}"


class _Sampler(threading.Thread):
    """Samples ``root`` and its descendants until stopped."""

    def __init__(self, root: int, label: str) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        self.root = root
        self.root_stats = ProcStats(label)
        self.seen: dict[int, ProcStats] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(POLL_S):
            self.sample()

    def sample(self) -> None:
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (stat := _read_stat(int(entry))) is not None:
                parents[int(entry)], cpu[int(entry)] = stat
        tree = {self.root}
        while found := {pid for pid, ppid in parents.items() if ppid in tree} - tree:
            tree |= found
        for pid in tree:
            if pid not in cpu:
                continue
            if pid == self.root:
                stats = self.root_stats
            elif (stats := self.seen.get(pid)) is None:
                stats = self.seen[pid] = ProcStats(_label(pid))
            stats.cpu_s = max(stats.cpu_s, cpu[pid])
            stats.peak_rss_mb = max(stats.peak_rss_mb, _read_hwm_mb(pid) or 0.0)


def run_measured(
    cmd: list[str],
    *,
    label: str,
    env: dict[str, str] | None = None,
    stdin: IO[Any] | int | None = subprocess.DEVNULL,
    stdout: IO[Any] | int | None = subprocess.DEVNULL,
    stderr: IO[Any] | int | None = None,
    timeout_s: float = 3600,
) -> Measured:
    """Run ``cmd`` to completion and measure it (wall time includes interpreter start-up).

    The direct child's figures are exact (``wait4``) when it has no children; otherwise its
    own CPU is the ``wait4`` total minus its descendants' and its peak RSS is sampled.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=stdin, stdout=stdout, stderr=stderr)
    sampler = _Sampler(proc.pid, label)
    sampler.start()
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    tree_cpu = usage.ru_utime + usage.ru_stime
    tree_rss = usage.ru_maxrss / 1024
    own = sampler.root_stats
    if sampler.seen:
        own.cpu_s = max(tree_cpu - sum(p.cpu_s for p in sampler.seen.values()), 0.0)
    else:
        own.cpu_s, own.peak_rss_mb = tree_cpu, tree_rss
    procs = [own, *sorted(sampler.seen.values(), key=lambda p: p.label)]
    for p in procs:
        p.cpu_s, p.peak_rss_mb = round(p.cpu_s, 2), round(p.peak_rss_mb, 1)
    return Measured(proc.returncode, round(wall, 2), procs, round(tree_cpu, 2), round(tree_rss, 1))
