"""The tap's Singer catalog with one stream selected, built in this process.

omniload imports the tap for its table map anyway (``omniload.tables``), so the catalog comes
from the same classes ``tap-posthog --discover`` prints it from (``catalog_json_text``) without
starting a third process, which cost an incremental run about a second of Python start-up.
The catalog depends on no setting (the streams and their schemas are fixed), so the tap is
built without the key and without validating its config; the run that follows validates it.
"""

from __future__ import annotations

import json
import logging
import signal
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from omniload.errors import RunError

if TYPE_CHECKING:
    from collections.abc import Iterator

_HANDLED = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _own_signals_and_logs() -> Iterator[None]:
    """Keep omniload's signal handlers and quiet the SDK's start-up log lines.

    The SDK's plugin constructor installs its own SIGINT/SIGTERM handlers
    (``PluginBase._setup_signal_handlers``); omniload's are put back at once.
    """
    handlers = {s: signal.getsignal(s) for s in _HANDLED}
    sdk = logging.getLogger("tap-posthog")
    level, propagate = sdk.level, sdk.propagate
    sdk.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        sdk.setLevel(level)
        sdk.propagate = propagate


def catalog_for(stream: str, tap_config: dict[str, Any]) -> dict[str, Any]:
    """The tap's catalog with only ``stream`` selected.

    Raises:
        RunError: The tap has no such stream.
    """
    from tap_posthog.tap import TapPostHog

    with _own_signals_and_logs():
        tap = TapPostHog(config=dict(tap_config), parse_env_config=False, validate_config=False)
        catalog: dict[str, Any] = json.loads(tap.catalog_json_text)  # as --discover prints
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
