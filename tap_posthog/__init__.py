"""Singer tap for PostHog, built with the Meltano Singer SDK."""

from tap_posthog.tap import TapPostHog

__all__ = ["TapPostHog"]
