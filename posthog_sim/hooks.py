"""Test hooks run before list pages and HogQL queries are served (e.g. insert a person)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

_PROJECT_PREFIX = re.compile(r"^/api/(?:projects|environments)/[^/]+/")


class Hooks:
    """Callbacks keyed by path prefix.

    A prefix starting with ``/`` matches the request path; any other prefix matches the path
    relative to the project (``"persons"`` matches ``/api/projects/1/persons/``).
    """

    def __init__(self) -> None:
        """Start without hooks."""
        self._lock = threading.Lock()
        self._hooks: list[tuple[str, Callable[[int], None], list[int]]] = []

    def before_page(self, path_prefix: str, callback: Callable[[int], None]) -> None:
        """Call ``callback(n)`` before serving the n-th (1-based) matching list page or query."""
        with self._lock:
            self._hooks.append((path_prefix, callback, [0]))

    def clear(self) -> None:
        """Remove every hook."""
        with self._lock:
            self._hooks.clear()

    def run(self, path: str) -> None:
        """Run the callbacks whose prefix matches ``path``."""
        relative = _PROJECT_PREFIX.sub("", path)
        due = []
        with self._lock:
            for prefix, callback, counter in self._hooks:
                target = path if prefix.startswith("/") else relative
                if target.startswith(prefix):
                    counter[0] += 1
                    due.append((callback, counter[0]))
        for callback, number in due:
            callback(number)
