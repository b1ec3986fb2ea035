"""A pipe writer with a bounded in-memory spool, so the tap never waits on a busy target.

target-duckdb reads nothing while it loads a batch into DuckDB; with only the kernel's 64 KiB
pipe buffer between them the tap would stall for the whole load. The spool keeps reading the
tap and holds up to ``limit`` bytes for the target, written by a background thread.
"""

from __future__ import annotations

import collections
import os
import threading

DEFAULT_LIMIT = 64 << 20


class SpoolWriter:
    """Write bytes to ``fd`` from a background thread, buffering up to ``limit`` bytes."""

    def __init__(self, fd: int, limit: int = DEFAULT_LIMIT) -> None:
        """Start the writer thread for ``fd``."""
        self._fd = fd
        self._limit = limit
        self._chunks: collections.deque[bytes] = collections.deque()
        self._queued = 0
        self._closed = False
        self._broken = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="omniload-spool", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:
        """Queue ``data``; block while the spool is full.

        Raises:
            BrokenPipeError: The reader of ``fd`` has gone away.
        """
        with self._cond:
            while self._queued >= self._limit and not self._broken:
                self._cond.wait()
            if self._broken:
                raise BrokenPipeError
            self._chunks.append(data)
            self._queued += len(data)
            self._cond.notify_all()

    def close(self) -> None:
        """Wait until everything queued is written.

        Raises:
            BrokenPipeError: The reader went away before everything was written.
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        if self._broken:
            raise BrokenPipeError

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._chunks and not self._closed:
                    self._cond.wait()
                if not self._chunks:
                    return
                data = self._chunks.popleft()
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError:
                with self._cond:
                    self._broken = True
                    self._chunks.clear()
                    self._cond.notify_all()
                return
            with self._cond:
                self._queued -= len(data)
                self._cond.notify_all()
