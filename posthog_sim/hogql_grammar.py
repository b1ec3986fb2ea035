"""HogQL parsed by PostHog's own grammar: the ``hogql-parser`` package (C++ ANTLR parser).

``hogql_parser`` imports ``posthog.hogql.ast``, ``posthog.hogql.base`` and
``posthog.hogql.errors`` when it loads (it is built for PostHog's Django app). The simulator only
calls ``parse_select_json``, which returns the AST as JSON and reports errors as JSON too, so
small stand-ins for those modules are enough. They are written here, put into ``sys.modules``
only while ``hogql_parser`` is imported, and removed right after (any ``posthog`` module that was
there before, such as PostHog's Python SDK, is put back), so no other code ever sees them.
"""

from __future__ import annotations

import json
import sys
import threading
import types
from typing import Any

_STAND_IN_NAMES = (
    "posthog",
    "posthog.hogql",
    "posthog.hogql.ast",
    "posthog.hogql.base",
    "posthog.hogql.errors",
)
_lock = threading.Lock()
_parser: Any = None


class HogQLSyntaxError(Exception):
    """What PostHog's grammar rejects (``"error": true`` in the parser's JSON)."""

    def __init__(self, message: str, kind: str = "SyntaxError") -> None:
        """Keep the parser's message and error type."""
        super().__init__(message)
        self.kind = kind


def _stand_ins() -> dict[str, types.ModuleType]:
    """Minimal ``posthog.hogql.{ast,base,errors}`` modules with the names the parser binds."""
    modules = {name: types.ModuleType(name) for name in _STAND_IN_NAMES}
    modules["posthog"].hogql = modules["posthog.hogql"]  # type: ignore[attr-defined]
    for leaf in ("ast", "base", "errors"):
        setattr(modules["posthog.hogql"], leaf, modules[f"posthog.hogql.{leaf}"])

    class BaseHogQLError(Exception):
        def __init__(
            self, message: str, *, start: Any = None, end: Any = None, node: Any = None
        ) -> None:
            super().__init__(message)
            self.start, self.end, self.node = start, end, node

    errors = modules["posthog.hogql.errors"]
    errors.BaseHogQLError = BaseHogQLError  # type: ignore[attr-defined]
    for name in (
        "ExposedHogQLError",
        "InternalHogQLError",
        "SyntaxError",
        "ParsingError",
        "NotImplementedError",
        "QueryError",
        "ResolutionError",
    ):
        setattr(errors, name, type(name, (BaseHogQLError,), {}))
    modules["posthog.hogql.base"].AST = type("AST", (), {})  # type: ignore[attr-defined]
    return modules


def _load() -> Any:
    """Import ``hogql_parser`` once, with the stand-ins visible only during the import."""
    global _parser
    with _lock:
        if _parser is None:
            saved = {name: sys.modules.get(name) for name in _STAND_IN_NAMES}
            sys.modules.update(_stand_ins())
            try:
                import hogql_parser

                _parser = hogql_parser
            finally:
                for name, module in saved.items():
                    if module is None:
                        sys.modules.pop(name, None)
                    else:
                        sys.modules[name] = module
        return _parser


def parse_select(text: str) -> dict[str, Any]:
    """PostHog's AST of a SELECT as JSON (``is_internal=True``: no spans).

    Raises:
        HogQLSyntaxError: The grammar rejects the text.
    """
    raw = _load().parse_select_json(text, is_internal=True)
    tree = json.loads(raw)
    if tree.get("error"):
        raise HogQLSyntaxError(str(tree.get("message", "Syntax error")), str(tree.get("type")))
    return tree
