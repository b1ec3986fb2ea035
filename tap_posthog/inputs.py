"""Checks of the command line's JSON files (``--config``, ``--state``, ``--catalog``).

Each problem becomes one :class:`InputFileError` naming the file and what is wrong with it, so
the tap can stop with one line instead of a traceback. The SDK still reads the files itself
afterwards; these checks only make sure it can.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from singer_sdk.singerlib import Catalog


class InputFileError(ValueError):
    """A command-line file is missing, unreadable, empty, not JSON or of the wrong shape."""


def _parse(text: str, what: str, name: str) -> Any:
    if not text.strip():
        raise InputFileError(f"{what} file '{name}' is empty (expected a JSON object)")
    try:
        return json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        col = getattr(exc, "colno", None)
        where = f" at line {line}, column {col}" if line else ""
        problem = getattr(exc, "msg", str(exc))
        raise InputFileError(f"{what} file '{name}' is not valid JSON{where}: {problem}") from None


def _require_object(value: Any, what: str, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        kind = type(value).__name__ if value is not None else "null"
        kind = {"list": "an array", "str": "a string", "int": "a number", "float": "a number"}.get(
            kind, kind
        )
        raise InputFileError(f"{what} file '{name}' must hold a JSON object, not {kind}")
    return value


def check_config_file(path: str) -> dict[str, Any]:
    """Read one ``--config`` file and return its settings."""
    what = "config"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(f"{what} file '{path}' was not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputFileError(f"cannot read {what} file '{path}': {reason}") from None
    return _require_object(_parse(text, what, path), what, path)


def config_files_ok(values: tuple[str, ...]) -> None:
    """Check every ``--config`` value that is a file (``ENV`` means environment variables)."""
    for value in values:
        if value != "ENV":
            check_config_file(value)


def _read(handle: IO[str], what: str) -> tuple[str, str]:
    name = getattr(handle, "name", what)
    try:
        return handle.read(), str(name)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputFileError(f"cannot read {what} file '{name}': {reason}") from None


def read_state(handle: IO[str]) -> str:
    """Check a ``--state`` file: a JSON object whose ``bookmarks`` map streams to objects."""
    text, name = _read(handle, "state")
    state = _require_object(_parse(text, "state", name), "state", name)
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise InputFileError(f"state file '{name}': 'bookmarks' must be a JSON object")
    for stream, bookmark in bookmarks.items():
        if not isinstance(bookmark, dict):
            raise InputFileError(
                f"state file '{name}': the bookmark of stream '{stream}' must be a JSON object"
            )
    syncing = state.get("currently_syncing")
    if syncing is not None and not isinstance(syncing, str):
        raise InputFileError(f"state file '{name}': 'currently_syncing' must be a string")
    return text


def read_catalog(handle: IO[str]) -> str:
    """Check a ``--catalog`` file: a Singer catalog, ``{"streams": [{"tap_stream_id": ...}]}``."""
    text, name = _read(handle, "catalog")
    catalog = _require_object(_parse(text, "catalog", name), "catalog", name)
    entries = catalog.get("streams")
    if not isinstance(entries, list):
        raise InputFileError(f"catalog file '{name}' must have a 'streams' array")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("tap_stream_id"), str):
            raise InputFileError(
                f"catalog file '{name}': streams[{index}] must be an object with a "
                "'tap_stream_id' string"
            )
        for field, kind in (("schema", dict), ("metadata", list)):
            if field in entry and not isinstance(entry[field], kind):
                expected = "an object" if kind is dict else "an array"
                raise InputFileError(
                    f"catalog file '{name}': '{field}' of stream '{entry['tap_stream_id']}' "
                    f"must be {expected}"
                )
    try:
        Catalog.from_dict(catalog)  # type: ignore[arg-type]
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise InputFileError(f"catalog file '{name}' is not a Singer catalog: {exc}") from None
    return text
