"""SIGINT, SIGTERM and SIGHUP: stop the run, leave the destination as it was, exit 128 + n.

The handlers raise :class:`~omniload.errors.Interrupted` in the main thread, wherever it is
(waiting for the lock, relaying, applying): the pipeline then stops the tap and the target and
the apply step rolls back. Once the apply has started its COMMIT the load is done in all but name:
a signal arriving from then on is noted and the run finishes (exit 0), so an interrupted run is
either wholly applied or not at all.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from omniload.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_committing = threading.Event()
_late: list[str] = []


def _handler(signum: int, _frame: Any) -> None:
    name = signal.Signals(signum).name
    if _committing.is_set():
        _late.append(name)
        return
    raise Interrupted(signum, name)


def install() -> dict[int, Any]:
    """Install the handlers (main thread only); return the previous ones for :func:`restore`."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    _committing.clear()
    _late.clear()
    return {sig: signal.signal(sig, _handler) for sig in SIGNALS}


def restore(previous: dict[int, Any]) -> None:
    """Put back the handlers :func:`install` replaced."""
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    _committing.clear()


@contextmanager
def committing() -> Iterator[None]:
    """Around COMMIT: a signal that has not raised before this point no longer interrupts."""
    _committing.set()
    try:
        yield
    except BaseException:
        _committing.clear()
        raise


def late_signals() -> list[str]:
    """Signals that arrived after the commit had started (the run finished anyway)."""
    return list(_late)
