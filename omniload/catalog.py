"""The tap's Singer catalog, built in this process and cached per installed tap.

The catalog is what ``tap-posthog --discover`` prints (``catalog_json_text``), from the same
classes, without starting a process for it. It depends on no setting (the streams and their
schemas are fixed), so the tap is built without key or config. Building it means importing the
tap and the SDK (about a second of an incremental run), so the result is cached in
``$OMNILOAD_CACHE_DIR`` (default ``$XDG_CACHE_HOME/omniload``, ``~/.cache/omniload``) under a
fingerprint of the installed tap: every file of the ``tap_posthog`` package (name, size, mtime)
and the SDK's and Python's versions, so any change to the tap builds it again. The cache holds
the tap's metadata only, never user data; where it cannot be written, nothing is cached.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.util
import json
import logging
import os
import signal
import sys
import tempfile
from contextlib import contextmanager, suppress
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omniload.errors import RunError

if TYPE_CHECKING:
    from collections.abc import Iterator

_HANDLED = (signal.SIGINT, signal.SIGTERM)
CACHE_ENV = "OMNILOAD_CACHE_DIR"


@contextmanager
def _own_signals_and_logs() -> Iterator[None]:
    """Keep omniload's signal handlers and quiet the SDK's start-up log lines.

    The SDK's plugin constructor installs its own SIGINT/SIGTERM handlers
    (``PluginBase._setup_signal_handlers``); omniload's are put back at once.
    """
    handlers = {s: signal.getsignal(s) for s in _HANDLED}
    sdk = logging.getLogger("tap-posthog")
    level = sdk.level
    sdk.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        sdk.setLevel(level)


def build_catalog() -> dict[str, Any]:
    """The tap's catalog as ``tap-posthog --discover`` prints it (imports the tap)."""
    from tap_posthog.tap import TapPostHog

    with _own_signals_and_logs():
        tap = TapPostHog(config={}, parse_env_config=False, validate_config=False)
        return json.loads(tap.catalog_json_text)  # type: ignore[no-any-return]


def fingerprint() -> str:
    """A digest of the installed tap: its package files, the SDK's and Python's versions."""
    spec = importlib.util.find_spec("tap_posthog")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    digest = hashlib.sha256()
    for part in (sys.version, _version("singer-sdk"), _version("tap-posthog")):
        digest.update(part.encode() + b"\0")
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
                stat = path.stat()
                entry = f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\0"
                digest.update(entry.encode())
    return digest.hexdigest()[:32]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def cache_dir() -> Path:
    """Where catalogs are cached (see the module docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "omniload"


@functools.cache
def tap_catalog() -> dict[str, Any]:
    """The tap's whole catalog: from the cache when the installed tap matches, else built."""
    path = cache_dir() / f"tap-posthog-catalog-{fingerprint()}.json"
    with suppress(OSError, ValueError):
        cached = json.loads(path.read_text())
        if isinstance(cached, dict) and isinstance(cached.get("streams"), list):
            return cached
    catalog = build_catalog()
    _write(path, catalog)
    return catalog


def _write(path: Path, catalog: dict[str, Any]) -> None:
    """Store atomically (a whole file or none); where that fails, do not cache."""
    with suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".catalog-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(catalog, fh)
            os.replace(tmp, path)
        finally:
            with suppress(OSError):
                os.unlink(tmp)


def catalog_for(stream: str) -> dict[str, Any]:
    """The tap's catalog with only ``stream`` selected.

    Raises:
        RunError: The tap has no such stream.
    """
    catalog = copy.deepcopy(tap_catalog())
    found = False
    for entry in catalog.get("streams", []):
        selected = entry.get("tap_stream_id") == stream
        found = found or selected
        for meta in entry.get("metadata", []):
            if meta.get("breadcrumb") == []:
                meta.setdefault("metadata", {})["selected"] = selected
    if not found:
        raise RunError(f"tap-posthog has no stream named {stream!r}")
    return catalog
