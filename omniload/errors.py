"""Errors that end an omniload run with a one-line message."""

from __future__ import annotations


class OmniloadError(Exception):
    """A failure reported to the user as one line; ``detail`` is shown only with ``--debug``."""

    exit_code = 1

    def __init__(self, message: str, detail: str | None = None) -> None:
        """Create the error with a one-line ``message`` and optional ``detail``."""
        super().__init__(message)
        self.message = message
        self.detail = detail


class UsageError(OmniloadError):
    """Bad command-line input (URI, table, dates, flags): exit code 2."""

    exit_code = 2


class RunError(OmniloadError):
    """A failure while running (API, tap, target, DuckDB): exit code 1."""

    exit_code = 1


class Interrupted(OmniloadError):
    """SIGINT, SIGTERM or SIGHUP arrived: exit code 128 + the signal number (130, 143, 129)."""

    def __init__(self, signum: int, name: str) -> None:
        """Create the error for signal ``signum`` called ``name``."""
        super().__init__(
            f"interrupted by {name}; the tap and the target were stopped and the destination "
            "was left as it was"
        )
        self.exit_code = 128 + signum
        self.signal_name = name
