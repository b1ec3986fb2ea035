"""Stopping on SIGTERM/SIGINT without ever writing a STATE ahead of its records.

The signal handler writes nothing. It raises :class:`Interrupted` where the tap happens to be
(a socket read, a backoff wait, building a record), which unwinds the sync at once; only while a
Singer message is being written is it held back until the message is complete, so stdout never
ends in half a line. Every STATE already written was written at a checkpoint, after the records
it covers, so a resumed sync continues exactly from the last one.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


class Interrupted(BaseException):
    """The tap was asked to stop by a signal; ``exit_code`` is 128 + the signal number.

    A ``BaseException`` like ``KeyboardInterrupt``, so no ``except Exception`` swallows it.
    """

    def __init__(self, signum: int) -> None:
        """Remember which signal stopped the tap."""
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """143 for SIGTERM, 130 for SIGINT (the shell's convention)."""
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        """``SIGTERM``, ``SIGINT``, ..."""
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"


class OutputGuard:
    """Holds a stop signal back while a message is being written, then raises it."""

    def __init__(self) -> None:
        """No write in progress, no signal pending."""
        self._depth = 0
        self._pending: int | None = None

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Mark a message write; a signal that arrives meanwhile is raised once it is done."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and self._pending is not None:
                signum, self._pending = self._pending, None
                raise Interrupted(signum)

    def handle(self, signum: int) -> None:
        """The signal handler's body: raise now, or after the message being written."""
        if self._depth:
            self._pending = signum
            return
        raise Interrupted(signum)


#: Signals are process-wide, so is the guard.
OUTPUT_GUARD = OutputGuard()
