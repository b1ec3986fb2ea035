"""One omniload run at a time per DuckDB file (and so per destination table).

DuckDB lets one process write a file at a time and the target holds the file for the whole load,
so two runs into the same file, whatever their tables, must take turns. The lock is an ``flock``
on ``<file>.omniload.lock`` beside the DuckDB file: the kernel releases it when its holder exits
or is killed (SIGKILL included), so a dead run never blocks the next one. The file also names its
holder (pid, table, start time) for the error line.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from omniload.errors import RunError

POLL_SECONDS = 0.1


def lock_path(db_path: Path) -> Path:
    """The lock file beside ``db_path``."""
    return db_path.with_name(db_path.name + ".omniload.lock")


def _holder(fd: int) -> str:
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw.decode()) if raw.strip() else {}
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another omniload run"
    return f"omniload pid {info['pid']} loading {info.get('table', '?')} since {info.get('since')}"


class DestinationLock:
    """Exclusive lock on one destination file, held for a whole run."""

    def __init__(self, db_path: Path, table: str) -> None:
        """Prepare the lock for ``table`` in ``db_path`` (not yet taken)."""
        self.db_path, self.table = db_path, table
        self.path = lock_path(db_path)
        self._fd: int | None = None

    def acquire(self, timeout: float, on_wait: Callable[[str], None] | None = None) -> None:
        """Take the lock, waiting up to ``timeout`` seconds (0: do not wait).

        Raises:
            RunError: Another run holds the lock after ``timeout`` seconds, or the lock file
                cannot be created.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise RunError(f"cannot create the lock file {self.path}: {exc.strerror}") from None
        deadline = time.monotonic() + max(0.0, timeout)
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(fd)
                if time.monotonic() >= deadline:
                    os.close(fd)
                    waited = f"waited {timeout:g} s" if timeout > 0 else "did not wait"
                    raise RunError(
                        f"{self.table} in {self.db_path} is busy: {holder} "
                        f"(lock {self.path.name}); {waited}, see --lock-timeout"
                    ) from None
                if on_wait is not None and not told:
                    on_wait(f"waiting up to {timeout:g} s for {holder}")
                    told = True
                time.sleep(POLL_SECONDS)
        info = {"pid": os.getpid(), "table": self.table,
                "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Release the lock (also released by the kernel if this process dies)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
