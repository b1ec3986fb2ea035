"""Machine description, target checks, and the results files (Markdown and JSON)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import shapes

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("singer-sdk", "msgspec", "requests", "duckdb", "target-duckdb")
RAW, TAP, OMNI, INCR = "raw client", "tap-posthog", "omniload ingest", "omniload incremental"


def machine() -> dict[str, Any]:
    """CPU, cores, memory, OS, Python and package versions, load at start."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo")
         if line.startswith("model name")), platform.processor() or "unknown",
    )  # fmt: skip
    mem_kb = next((int(line.split()[1]) for line in _lines("/proc/meminfo")
                   if line.startswith("MemTotal:")), 0)  # fmt: skip
    os_name = next((line.split("=", 1)[1].strip('"') for line in _lines("/etc/os-release")
                    if line.startswith("PRETTY_NAME=")), platform.system())  # fmt: skip
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024**2, 1),
        "os": f"{os_name}, Linux {platform.release()}",
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and whether the working tree differs from it (read-only git)."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)

    commit = git("rev-parse", "--short", "HEAD").stdout.strip() or None
    paths = ("tap_posthog", "omniload", "target_duckdb_guard", "posthog_sim", "benchmarks")
    changed = git("diff", "--name-only", "HEAD", "--", *paths).stdout.split()
    new = git("ls-files", "--others", "--exclude-standard", "--", *paths).stdout.split()
    results = {p for p in new if p.startswith("benchmarks/results")}
    changed_files = sorted({*changed, *new} - results)
    return {"commit": commit, "uncommitted_changes": bool(changed_files), "changed": changed_files}


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def checks(
    summary: dict[str, dict[str, Any]], baseline: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The issue's targets, measured on the representative (median-wall) runs."""
    raw, tap, omni, incr = (summary[n] for n in (RAW, TAP, OMNI, INCR))
    out: list[dict[str, Any]] = []

    def add(target: str, measured: str, met: bool | None) -> None:
        out.append({"target": target, "measured": measured, "met": met})

    pages = tap["median_page_rows"] or 0
    add("events arrive in >= 20,000 rows a page (median over data pages, full load)",
        f"{pages:,.0f} rows (tap), {omni['median_page_rows'] or 0:,.0f} (omniload)",
        pages >= 20_000 and (omni["median_page_rows"] or 0) >= 20_000)  # fmt: skip
    for phase, floor in ((tap, 0.8), (omni, 0.55)):
        ratio = phase["rows_per_s"] / raw["rows_per_s"]
        add(f"{phase['name']} reaches >= {floor:.0%} of the raw client's rows/s",
            f"{ratio:.0%} ({phase['rows_per_s']:,} vs {raw['rows_per_s']:,} rows/s)",
            ratio >= floor)  # fmt: skip
    peaks = _peaks(summary)
    worst = max(peaks, key=lambda k: peaks[k])
    add("peak RSS of every pipeline process < 300 MB",
        f"max {peaks[worst]:.0f} MB ({worst[1]} in {worst[0]})", peaks[worst] < 300)  # fmt: skip
    if baseline is not None:
        base = _peaks(baseline["summary"])
        growth = {k: peaks[k] / base[k] - 1 for k in peaks if base.get(k)}
        over = sorted((k for k in growth if growth[k] > 0.3), key=lambda k: -growth[k])
        shown = over or [max(growth, key=lambda k: growth[k])]
        detail = "; ".join(
            f"{k[1]} in {k[0]} {base[k]:.0f} -> {peaks[k]:.0f} MB ({growth[k]:+.0%})" for k in shown
        )
        add(f"peak RSS of every pipeline process grows <= 30 % from {baseline['events']:,} events",
            detail if over else f"max: {detail}", not over)  # fmt: skip
    add("incremental rerun with no new data: < 3 s wall, <= 2 requests per stream",
        f"{incr['wall_s']:.2f} s, {incr['requests']} requests (events)",
        incr["wall_s"] < 3 and incr["requests"] <= 2)  # fmt: skip
    return out


def _peaks(summary: dict[str, dict[str, Any]]) -> dict[tuple[str, str], float]:
    """Peak RSS (MB) by (command, process) of the pipeline (the raw client is a reference)."""
    return {
        (s["name"], p["label"]): p["peak_rss_mb"]
        for s in summary.values()
        if not s["name"].startswith(RAW)
        for p in s["procs"]
    }


def _procs(phase: dict[str, Any], key: str, fmt: str) -> str:
    return ", ".join(f"{p['label']} {format(p[key], fmt)}" for p in phase["procs"])


def markdown(result: dict[str, Any]) -> str:
    """The results as Markdown: command, machine, table, targets, all rounds."""
    m, code, summary = result["machine"], result["code"], result["summary"]
    raw_rate = summary[RAW]["rows_per_s"]
    changed = code.get("changed") or []
    state = f" plus uncommitted changes to {', '.join(changed)}" if changed else ""
    if code["uncommitted_changes"] and not changed:
        state = " plus uncommitted changes"
    lines = [
        f"# Benchmark: {result['events']:,} events",
        "",
        f"`{result['command']}` on {result['date']}, code at commit `{code['commit']}`{state}.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM; {m['os']}; "
        f"Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items())
        + f". Load average at start: {', '.join(map(str, m['load_average_at_start']))}.",
        "",
        f"Each command ran {result['repeat']} time(s), in turn, against one simulator "
        f"(its own process); the table shows each command's run with the median wall time.",
        "",
        "| command | rows | requests | median rows/request | wall s | rows/s | vs raw "
        "| CPU s per process | peak RSS MB per process |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, phase in summary.items():
        rate = phase["rows_per_s"]
        pages = phase["median_page_rows"]
        lines.append(
            f"| {name} | {phase['rows']:,} | {phase['requests']} "
            f"| {f'{pages:,.0f}' if pages is not None else '-'} | {phase['wall_s']:.2f} "
            f"| {f'{rate:,}' if rate else '-'} | {f'{rate / raw_rate:.0%}' if rate else '-'} "
            f"| {_procs(phase, 'cpu_s', '.2f')} | {_procs(phase, 'peak_rss_mb', '.0f')} |"
        )
    lines += [
        "",
        "rows: rows the simulator sent in events data pages; requests: every request it served "
        "during the command; rows/s: events divided by the command's whole wall time, start-up "
        "included; CPU: user + system seconds; omniload's tap and target (and its catalog "
        "discovery) are sampled from /proc every 100 ms. The raw client (reference: "
        "`response.json()` and `json.loads`; the msgspec row decodes as the tap does) holds a "
        "whole decoded page, so its memory follows the page size; the RSS targets apply to "
        "tap-posthog and omniload's processes. One untimed raw pass warms the simulator first.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for check in result["checks"]:
        met = {True: "yes", False: "**no**", None: "-"}[check["met"]]
        lines.append(f"| {check['target']} | {check['measured']} | {met} |")
    lines += ["", "## Wall seconds of every run", ""]
    for name, runs in result["runs"].items():
        lines.append(f"- {name}: " + ", ".join(f"{r['wall_s']:.2f}" for r in runs))
    shapes_json = Path(__file__).with_name("results-shapes.json")
    if result["events"] == 200_000 and shapes_json.exists():
        lines += ["", *shapes.markdown(json.loads(shapes_json.read_text()))]
    return "\n".join(lines) + "\n"


def now() -> str:
    """Current UTC time, to the minute."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
