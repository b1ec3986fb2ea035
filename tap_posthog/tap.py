"""TapPostHog: the stream list, config validation, signals and one-line fatal errors.

The settings are declared in ``settings``; the checks beyond the schema live in ``config_checks``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError

from tap_posthog import (
    cohort_people,
    group_streams,
    persons,
    product_streams,
    recording_streams,
    streams,
)
from tap_posthog.config_checks import semantic_errors, unknown_setting_warnings, without_secret
from tap_posthog.errors import PostHogAPIError
from tap_posthog.events import EventsStream
from tap_posthog.http import DEFAULT_LIMITS, LEGACY_QUERY_PER_HOUR, RateBudget, RetryPolicy
from tap_posthog.inputs import InputFileError, config_files_ok, read_catalog, read_state
from tap_posthog.output import GuardedMsgSpecWriter
from tap_posthog.sessions import SessionsStream
from tap_posthog.settings import CONFIG_SCHEMA
from tap_posthog.signals import OUTPUT_GUARD, Interrupted

if TYPE_CHECKING:
    from types import FrameType

    import click

STREAM_TYPES = [
    streams.ProjectsStream,
    persons.PersonsStream,
    persons.PersonDistinctIdsStream,
    streams.FeatureFlagsStream,
    EventsStream,
    streams.CohortsStream,
    streams.EventDefinitionsStream,
    streams.EventPropertyDefinitionsStream,
    streams.PersonPropertyDefinitionsStream,
    streams.SessionPropertyDefinitionsStream,
    streams.AnnotationsStream,
    product_streams.InsightsStream,
    product_streams.DashboardsStream,
    product_streams.ActionsStream,
    product_streams.ExperimentsStream,
    product_streams.SurveysStream,
    group_streams.GroupTypesStream,
    group_streams.GroupsStream,
    recording_streams.SessionRecordingsStream,
    cohort_people.CohortPeopleStream,
    SessionsStream,
]


class TapPostHog(Tap):
    """Singer tap for PostHog."""

    name = "tap-posthog"
    #: msgspec serialises Singer messages several times faster than the default writer; the
    #: guarded variant never leaves half a message on stdout when a stop signal arrives.
    message_writer_class = GuardedMsgSpecWriter

    config_jsonschema = CONFIG_SCHEMA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Create the tap and its shared retry policy and rate budget."""
        super().__init__(*args, **kwargs)
        config = self.config
        self.retry_policy = RetryPolicy(max_attempts=int(config.get("max_attempts", 8)))
        limits = {
            kind: (
                float(config.get(f"{kind}_rate_per_minute", minute)),
                float(config.get(f"{kind}_rate_per_hour", hour)),
            )
            for kind, (minute, hour) in DEFAULT_LIMITS.items()
        }
        if config.get("legacy_query_rate_limit"):
            per_minute, per_hour = limits["query"]
            limits["query"] = (
                min(per_minute, LEGACY_QUERY_PER_HOUR),
                min(per_hour, LEGACY_QUERY_PER_HOUR),
            )
        self.rate_budget = RateBudget(
            limits,
            share=float(config.get("rate_limit_share", 0.8)),
            time_scale=float(config.get("rate_limit_time_scale", 1)),
        )

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate against the schema, then check what a schema cannot express.

        Messages never contain the key: a schema error about it is reworded. Unknown settings
        are warned about, with the closest known name.
        """
        schema_errors = super()._validate_config(raise_errors=False)
        key = self._config.get("personal_api_key")
        errors = [without_secret(error, key) for error in schema_errors]
        if not errors:
            errors = semantic_errors(self._config, {t.name for t in STREAM_TYPES})
        for warning in unknown_setting_warnings(self._config, self.config_jsonschema):
            self.logger.warning("%s", warning)
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return errors

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: stop now, writing nothing (the SDK's handler writes a STATE here).

        The STATE messages already written were written at checkpoints after their records;
        a STATE written from inside a signal handler could cover records still in the events
        stream's output buffer, or cut a message in half.
        """
        OUTPUT_GUARD.handle(signum)

    def discover_streams(self) -> list[streams.PostHogStream]:
        """Return one instance of every stream."""
        return [stream_class(tap=self) for stream_class in STREAM_TYPES]

    @classmethod
    def cb_config(
        cls,
        ctx: click.Context,
        param: click.Option,
        value: tuple[str, ...],
    ) -> Any:
        """Read ``--config`` files; a missing, malformed or non-object file is one line."""
        try:
            config_files_ok(value)
        except InputFileError as exc:
            _fail(str(exc))
        return super().cb_config(ctx, param, value)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        state: io.TextIOBase | None = None,
        catalog: io.TextIOBase | None = None,
    ) -> None:
        """Run the sync; fatal errors end with one line on stderr and exit code 1.

        ``--state`` and ``--catalog`` are checked first (file and problem named in one line).
        A stop signal exits 143 (SIGTERM) or 130 (SIGINT) without writing anything more.
        """
        try:
            if state is not None:
                state = io.StringIO(read_state(state))
            if catalog is not None:
                catalog = io.StringIO(read_catalog(catalog))
            super().invoke(
                about=about, about_format=about_format, config=config, state=state, catalog=catalog
            )
        except InputFileError as exc:
            _fail(str(exc))
        except PostHogAPIError as exc:
            _fail(str(exc))
        except ConfigValidationError as exc:
            _fail("invalid config: " + "; ".join(exc.errors or [str(exc)]))
        except Interrupted as exc:
            _stop(exc)


class _NullBookmarkFilter(logging.Filter):
    """Silence the SDK's per-record warning for null replication values (nullable keys)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "New replication value is null"


logging.getLogger("singer_sdk").addFilter(_NullBookmarkFilter())


def _stop(exc: Interrupted) -> NoReturn:
    """Exit 128 + signal at once, without finalizers that could still write to stdout.

    Every message on stdout was written whole and flushed by the guarded writers; a suspended
    stream generator finalized later (``finally`` blocks flushing buffers) must not add more.
    """
    message = (
        f"stopped by {exc.signal_name}; the last STATE message written covers every record "
        "before it, so a run with that state resumes without gaps"
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    sys.stderr.write(f"tap-posthog: {message}\n")
    sys.stderr.flush()
    os._exit(exc.exit_code)


def _fail(message: str, code: int = 1) -> NoReturn:
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    sys.stderr.write(f"tap-posthog: {' '.join(message.split())}\n")
    sys.stderr.flush()
    sys.exit(code)
