"""Spawn ``tap-posthog | target-duckdb-guarded`` as two processes and supervise them.

omniload relays the bytes between them (see ``relay.py``). If either side dies, the other is
killed; on SIGINT/SIGTERM (the CLI turns them into ``Interrupted``) both are stopped; if omniload
itself is killed (even by SIGKILL), Linux kills both through the parent-death signal; no process
is left behind. The API key reaches the tap only through its environment
(``TAP_POSTHOG_PERSONAL_API_KEY``). Both children get ``TMPDIR`` set to the run's private folder,
so nothing they write lands in the shared temp folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omniload.deletions import reads_whole
from omniload.errors import RunError
from omniload.relay import Relay
from omniload.spool import SpoolWriter
from omniload.uri import KEY_ENV, redact

CHUNK = 1 << 20
TAP = ("tap-posthog", "tap_posthog")
TARGET = ("target-duckdb-guarded", "target_duckdb_guard")
_SCRUBBED_ENV_PREFIXES = ("TAP_POSTHOG_", "OMNILOAD_", "TARGET_DUCKDB_")
_PR_SET_PDEATHSIG = 1


def find_executable(script: str, module: str) -> list[str]:
    """Command for a console script: next to ``sys.executable``, then PATH, then ``-m``."""
    local = Path(sys.executable).with_name(script)
    if local.exists():
        return [str(local)]
    found = shutil.which(script)
    return [found] if found else [sys.executable, "-m", module]


def child_env(api_key: str | None, tmp: Path | None = None) -> dict[str, str]:
    """Environment for a child: no omniload/tap settings or key, except the tap's own key.

    ``tmp`` becomes its ``TMPDIR`` (and ``TMP``/``TEMP``).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUBBED_ENV_PREFIXES) and k != KEY_ENV
    }
    if api_key is not None:
        env["TAP_POSTHOG_PERSONAL_API_KEY"] = api_key
    if tmp is not None:
        env.update({"TMPDIR": str(tmp), "TMP": str(tmp), "TEMP": str(tmp)})
    return env


@dataclass
class PairSpec:
    """What to run: tap config (no key), catalog, target config, state, stream, key override.

    ``catalog`` is the tap's catalog with ``stream`` selected (``omniload.catalog``).
    """

    api_key: str
    stream: str
    tap_config: dict[str, Any]
    target_config: dict[str, Any]
    catalog: dict[str, Any]
    state: dict | None = None
    primary_key: tuple[str, ...] | None = None
    on_start: Callable[[Relay], None] | None = None


@dataclass
class PairResult:
    """What the run produced."""

    records: int
    state: dict | None
    logs: dict[str, str] = field(default_factory=dict)
    #: The catalog declares the stream FULL_TABLE and the tap announced a complete read.
    complete_whole_read: bool = False


def _tail(path: Path, limit: int = 64_000) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - limit))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _kill(proc: subprocess.Popen | None, grace: float = 3.0) -> None:
    """Terminate a child's process group, then kill it if it does not exit."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


class _Watchdog(threading.Thread):
    """Kills the surviving side as soon as one side dies (non-zero, or target early)."""

    def __init__(self, tap: subprocess.Popen, target: subprocess.Popen) -> None:
        super().__init__(name="omniload-watchdog", daemon=True)
        self.tap, self.target = tap, target
        self.first_failure: str | None = None
        self.done = threading.Event()
        self.eof = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            tap_rc, target_rc = self.tap.poll(), self.target.poll()
            if tap_rc not in (None, 0):
                self.first_failure = "tap"
                _kill(self.target)
                return
            if target_rc is not None and (target_rc != 0 or not self.eof.is_set()):
                self.first_failure = "target"
                _kill(self.tap)
                return


def _tap_error(log: str, rc: int, key: str) -> RunError:
    line = redact(_last_line(log), (key,))
    if line.startswith("tap-posthog:"):
        return RunError(line)
    reason = f"killed by signal {-rc}" if rc < 0 else f"exit {rc}"
    return RunError(f"tap-posthog failed ({reason}): {line or 'no error output'}")


def _target_error(log: str, rc: int, path: str, key: str) -> RunError:
    if "Could not set lock" in log:
        return RunError(f"destination database is locked by another process: {path}")
    if rc == 0:
        return RunError("target-duckdb-guarded exited before the end of the data")
    line = redact(_last_line(log), (key,))
    reason = f"killed by signal {-rc}" if rc < 0 else f"exit {rc}"
    return RunError(f"target-duckdb-guarded failed ({reason}): {line or 'no error output'}")


def _load_prctl() -> Callable[..., int] | None:
    """The C library's ``prctl`` on Linux, resolved once before any fork; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl  # type: ignore[no-any-return]


_PRCTL = _load_prctl()


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel SIGKILL the child when this process dies.

    Covers a SIGKILL of omniload, which no handler can see: otherwise the target would read EOF,
    keep the DuckDB file locked while it flushes, and fail the rerun. The kernel tracks the
    starting thread, which waits for its children here. None off Linux.
    """
    prctl, parent = _PRCTL, os.getpid()
    if prctl is None:
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def _start(cmd: list[str], env: dict[str, str], stderr: Any, **kw: Any) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, env=env, stderr=stderr, start_new_session=True, preexec_fn=die_with_parent(), **kw
    )


def _commands(spec: PairSpec, tmp: Path) -> tuple[list[str], list[str]]:
    """Write the config, catalog and state files (none holds the key); return both commands."""
    files = {name: tmp / f"{name}.json" for name in ("tap", "target", "state", "catalog")}
    files["tap"].write_text(json.dumps(spec.tap_config))
    files["target"].write_text(json.dumps(spec.target_config))
    files["catalog"].write_text(json.dumps(spec.catalog))
    tap_cmd = [*find_executable(*TAP), "--config", str(files["tap"]), "--config", "ENV"]
    tap_cmd += ["--catalog", str(files["catalog"])]
    if spec.state is not None:
        files["state"].write_text(json.dumps(spec.state))
        tap_cmd += ["--state", str(files["state"])]
    return tap_cmd, [*find_executable(*TARGET), "--config", str(files["target"])]


def run_pair(spec: PairSpec, tmp: Path) -> PairResult:
    """Run the tap and the target for one stream and relay between them.

    Raises:
        RunError: Either side failed, the relay failed, or the run was interrupted.
    """
    logs = {"tap": tmp / "tap.log", "target": tmp / "target.log"}
    relay = Relay(spec.primary_key)
    tap = target = None
    watchdog: _Watchdog | None = None
    try:
        tap_cmd, target_cmd = _commands(spec, tmp)
        with logs["tap"].open("wb") as tap_err, logs["target"].open("wb") as target_err:
            target = _start(
                target_cmd, child_env(None, tmp), target_err,
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            tap = _start(
                tap_cmd, child_env(spec.api_key, tmp), tap_err,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            )  # fmt: skip
        watchdog = _Watchdog(tap, target)
        watchdog.start()
        if spec.on_start:
            spec.on_start(relay)
        relay_error = _pump(relay, tap.stdout.fileno(), target.stdin.fileno())  # type: ignore[union-attr]
        watchdog.eof.set()
        with contextlib.suppress(OSError):
            target.stdin.close()  # type: ignore[union-attr]
        if relay_error is not None:
            _kill(tap)
            _kill(target)
        tap_rc, target_rc = tap.wait(), target.wait()
    finally:
        if watchdog is not None:
            watchdog.done.set()
        _kill(tap)
        _kill(target)
        for proc in (tap, target):
            for stream in (proc.stdin, proc.stdout) if proc else ():
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
    texts = {name: _tail(path) for name, path in logs.items()}
    failure = watchdog.first_failure
    error: RunError | None = relay_error
    if error is None and (failure == "tap" or (failure is None and tap_rc != 0)):
        error = _tap_error(texts["tap"], tap_rc, spec.api_key)
    if error is None and (target_rc != 0 or failure == "target"):
        error = _target_error(texts["target"], target_rc, spec.target_config["path"], spec.api_key)
    if error is None and tap_rc != 0:
        error = _tap_error(texts["tap"], tap_rc, spec.api_key)
    if error is not None:
        raise _with_detail(error, texts, spec.api_key)
    whole = reads_whole(tmp / "catalog.json", spec.stream)
    return PairResult(
        relay.records, relay.last_state, texts, whole and spec.stream in relay.completed_streams
    )


def _pump(relay: Relay, src: int, dst: int) -> RunError | None:
    """Copy tap output to the target until EOF; return a relay error instead of raising."""
    spool = SpoolWriter(dst)
    try:
        try:
            while chunk := os.read(src, CHUNK):
                data = relay.feed(chunk)
                if data:
                    spool.write(data)
            tail = relay.finish()
            if tail:
                spool.write(tail)
        finally:
            spool.close()
    except BrokenPipeError:
        return None  # the target died; its exit code tells why
    except RunError as exc:
        return exc
    return None


def _debug_detail(texts: dict[str, str], key: str) -> str:
    parts = []
    for name, text in texts.items():
        tail = "\n".join(text.splitlines()[-40:])
        parts.append(f"--- {name} stderr (last lines) ---\n{redact(tail, (key,))}")
    return "\n".join(parts)


def _with_detail(err: RunError, texts: dict[str, str], key: str) -> RunError:
    err.detail = _debug_detail(texts, key)
    return err
