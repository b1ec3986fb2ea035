"""SIGTERM/SIGINT: the tap stops promptly, exits 143/130, and every STATE it wrote is safe.

The tap is interrupted at many points chosen by its own output (the number of RECORD lines
read so far), never by sleeping. Each interrupted run is then resumed from the last STATE it
wrote; the records written before that STATE plus the resumed run's records must hold every
event exactly as the simulator's ground truth has it. A signal that lands inside a write is
provoked in-process, at the moment the pipe it writes to is full.
"""

from __future__ import annotations

import array
import fcntl
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from singer_sdk.singerlib import RecordMessage

from posthog_sim import SimConfig, Simulator
from tap_posthog.signals import Interrupted
from tap_posthog.tap import TapPostHog
from tests.taprun import TAP, catalog_for, run_tap

STREAMS = ["events", "cohorts"]


@pytest.fixture(scope="module")
def signal_sim():
    # 9,000 events over 30 days, 1,000-row pages: about 10 checkpoints to land between.
    with Simulator(SimConfig(seed=91, n_events=9000, tie_groups=((1500, 1),))) as sim:
        yield sim


def _config(sim):
    start = (datetime.now(UTC) - timedelta(days=32)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "personal_api_key": sim.api_key,
        "project_id": sim.project_id,
        "base_url": sim.base_url,
        "start_date": start,
        "events_page_size": 1000,
    }


def _interrupted_run(
    config: dict, after_records: int, signum: int
) -> tuple[int, list[dict], float]:
    """Run the tap, send ``signum`` once ``after_records`` RECORD lines were read; read the rest.

    Returns the exit code, every message written, and seconds from the signal to the exit.
    """
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp, "config.json")
        config_path.write_text(json.dumps(config))
        catalog_path = Path(tmp, "catalog.json")
        catalog_path.write_text(json.dumps(catalog_for(config, STREAMS)))
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_POSTHOG_")}
        proc = subprocess.Popen(
            [TAP, "--config", str(config_path), "--catalog", str(catalog_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert proc.stdout is not None
        messages, records, signalled_at = [], 0, None
        for raw in proc.stdout:
            assert raw.endswith(b"\n"), f"half a message on stdout: {raw[-80:]!r}"
            message = json.loads(raw)
            messages.append(message)
            records += message["type"] == "RECORD"
            if signalled_at is None and records >= after_records and message["type"] != "STATE":
                # 0: right after the first SCHEMA message, before any record.
                proc.send_signal(signum)
                signalled_at = time.monotonic()
        code = proc.wait(timeout=60)
        assert signalled_at is not None, "the run ended before the interrupt point"
        return code, messages, time.monotonic() - signalled_at


def _records_before_last_state(messages: list[dict]) -> tuple[list[dict], dict | None]:
    last_state = max((i for i, m in enumerate(messages) if m["type"] == "STATE"), default=None)
    if last_state is None:
        return [], None
    covered = [
        m["record"]
        for m in messages[:last_state]
        if m["type"] == "RECORD" and m["stream"] == "events"
    ]
    return covered, messages[last_state]["value"]


# Interrupt points spread over the run (about 9,000 events, then cohorts), both signals.
POINTS = [
    (1, signal.SIGTERM),
    (700, signal.SIGINT),
    (1000, signal.SIGTERM),
    (2500, signal.SIGTERM),
    (3999, signal.SIGINT),
    (5200, signal.SIGTERM),
    (6001, signal.SIGINT),
    (7500, signal.SIGTERM),
    (8800, signal.SIGINT),
]


@pytest.mark.parametrize(("after_records", "signum"), POINTS, ids=lambda v: str(v))
def test_interrupted_sync_resumes_exactly(signal_sim, after_records, signum):
    sim = signal_sim
    config = _config(sim)
    code, messages, stop_seconds = _interrupted_run(config, after_records, signum)
    assert code == 128 + signum
    assert stop_seconds < 10, f"took {stop_seconds:.1f} s to stop"
    covered, state = _records_before_last_state(messages)
    resumed = run_tap(config, streams=["events"], state=state)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    truth = {r["id"]: r for r in sim.truth.records("events")}
    loaded: dict[str, dict] = {}
    for record in covered + resumed.records.get("events", []):
        assert record["id"] in truth, "an event the server does not have"
        if record["id"] in loaded:
            assert loaded[record["id"]] == record, "the same event read twice, differently"
        loaded[record["id"]] = record
    missing = set(truth) - set(loaded)
    assert not missing, f"{len(missing)} events lost after {after_records} records"
    for event_id, record in loaded.items():
        assert record == {**truth[event_id], "project_id": sim.project_id}


def test_the_tap_stops_promptly_while_waiting_for_a_slow_response(signal_sim):
    sim = signal_sim
    sim.faults.script(r"/query/", ["slow:30"])
    try:
        started = time.monotonic()
        code, messages, stop_seconds = _interrupted_run(_config(sim), 0, signal.SIGTERM)
    finally:
        sim.faults.clear()
    assert code == 143
    assert time.monotonic() - started < 20
    assert stop_seconds < 5
    assert not [m for m in messages if m["type"] == "RECORD"]


def _pipe_bytes(fd: int) -> int:
    held = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, held)
    return held[0]


def _stdout_on(fd: int, *, buffered: bool) -> io.TextIOWrapper:
    """stdout as Python builds it for a pipe: raw ``FileIO`` under ``PYTHONUNBUFFERED``."""
    raw = io.FileIO(fd, "wb", closefd=False)
    if buffered:
        return io.TextIOWrapper(io.BufferedWriter(raw))
    return io.TextIOWrapper(raw, write_through=True)


def _write_while_signalled(write, tap: TapPostHog, *, buffered: bool, monkeypatch) -> bytes:
    """Run ``write`` with stdout on a pipe; SIGTERM the main thread once the pipe is full.

    The pipe starts empty and ``write`` writes more than it holds, so once it is full the write
    has put bytes in it and waits for room: the signal ends that ``write(2)`` early (the tap's
    handler runs after it returned). Only then is the pipe drained, to its end. Returns
    everything written; ``write`` must end in ``Interrupted``.
    """
    read_fd, write_fd = os.pipe()
    capacity = fcntl.fcntl(write_fd, fcntl.F_GETPIPE_SZ)
    main = threading.main_thread().ident
    handled = threading.Event()
    chunks: list[bytes] = []

    def on_signal(signum, frame) -> None:
        handled.set()
        tap._handle_termination(signum, frame)

    def reader() -> None:
        while _pipe_bytes(read_fd) < capacity:
            pass
        signal.pthread_kill(main, signal.SIGTERM)
        handled.wait(timeout=30)
        while chunk := os.read(read_fd, 1 << 16):
            chunks.append(chunk)

    thread = threading.Thread(target=reader, daemon=True)
    monkeypatch.setattr(sys, "stdout", _stdout_on(write_fd, buffered=buffered))
    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        thread.start()
        with pytest.raises(Interrupted) as stopped:
            write(capacity)
    finally:
        signal.signal(signal.SIGTERM, previous)
        monkeypatch.undo()
        os.close(write_fd)
        thread.join(timeout=30)
        os.close(read_fd)
    assert handled.is_set()
    assert stopped.value.signum == signal.SIGTERM
    return b"".join(chunks)


@pytest.fixture
def offline_tap():
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield TapPostHog(
            config={"personal_api_key": "phx_x", "project_id": 1, "base_url": "http://127.0.0.1:1"}
        )
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


@pytest.mark.parametrize("buffered", [False, True], ids=["unbuffered", "buffered"])
def test_a_signal_inside_the_events_block_write_still_writes_the_block_whole(
    offline_tap, monkeypatch, buffered
):
    stream = offline_tap.streams["events"]
    written = b""

    def flush_block(capacity: int) -> None:
        nonlocal written
        line = 0
        while len(written) < capacity + 5000:
            written += b'{"type":"RECORD","stream":"events","record":{"n":%d}}\n' % line
            line += 1
        stream._pending.extend(written)
        stream._flush_records()

    out = _write_while_signalled(
        flush_block, offline_tap, buffered=buffered, monkeypatch=monkeypatch
    )
    assert out == written
    assert not stream._pending


@pytest.mark.parametrize("buffered", [False, True], ids=["unbuffered", "buffered"])
def test_a_signal_inside_a_message_write_still_writes_the_message_whole(
    offline_tap, monkeypatch, buffered
):
    record = {"id": 7, "filters": "x" * 100_000}

    def write_message(capacity: int) -> None:
        assert len(record["filters"]) > capacity
        offline_tap.message_writer.write_message(RecordMessage(stream="cohorts", record=record))

    out = _write_while_signalled(
        write_message, offline_tap, buffered=buffered, monkeypatch=monkeypatch
    )
    assert out.endswith(b"\n")
    assert out.count(b"\n") == 1
    message = json.loads(out)
    assert (message["type"], message["stream"], message["record"]) == ("RECORD", "cohorts", record)
