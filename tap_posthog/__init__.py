"""Singer tap for PostHog, built with the Meltano Singer SDK.

``TapPostHog`` loads on first use, so the SDK-free modules (``hogql``, ``events_windows``)
import without it (the benchmark's raw client uses them).
"""

from __future__ import annotations

from typing import Any

__all__ = ["TapPostHog"]


def __getattr__(name: str) -> Any:
    if name == "TapPostHog":
        from tap_posthog.tap import TapPostHog

        return TapPostHog
    raise AttributeError(name)
