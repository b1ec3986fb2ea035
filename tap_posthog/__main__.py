"""Command-line entry point: ``tap-posthog``."""

from __future__ import annotations

from tap_posthog.tap import TapPostHog


def main() -> None:
    """Run the tap's Singer command line."""
    TapPostHog.cli()


if __name__ == "__main__":
    main()
