"""TapPostHog: settings, config checks, the stream list and one-line fatal errors."""

from __future__ import annotations

import contextlib
import difflib
import io
import logging
import os
import re
import sys
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_posthog import (
    cohort_people,
    group_streams,
    persons,
    product_streams,
    recording_streams,
    streams,
)
from tap_posthog.errors import PostHogAPIError
from tap_posthog.events import EventsStream
from tap_posthog.http import DEFAULT_LIMITS, LEGACY_QUERY_PER_HOUR, RateBudget, RetryPolicy
from tap_posthog.inputs import InputFileError, config_files_ok, read_catalog, read_state
from tap_posthog.output import GuardedMsgSpecWriter
from tap_posthog.projects import project_errors
from tap_posthog.sessions import SessionsStream
from tap_posthog.signals import OUTPUT_GUARD, Interrupted
from tap_posthog.timeutil import check_query_range, parse_datetime

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


_RATE_LABELS = {"query": "Query API", "analytics": "Persons API", "crud": "Other API"}


def _rate_settings() -> list[th.Property]:
    """``<class>_rate_per_minute`` / ``_per_hour`` settings, defaulting to PostHog's limits."""
    settings = []
    for kind, (per_minute, per_hour) in DEFAULT_LIMITS.items():
        for unit, default in (("minute", per_minute), ("hour", per_hour)):
            label = f"{_RATE_LABELS[kind]} requests per {unit}"
            settings.append(
                th.Property(
                    f"{kind}_rate_per_{unit}",
                    th.IntegerType(minimum=1),
                    default=default,
                    title=label,
                    description=f"{label} allowed by your PostHog plan (shared by the whole team).",
                )
            )
    return settings


class TapPostHog(Tap):
    """Singer tap for PostHog."""

    name = "tap-posthog"
    #: msgspec serialises Singer messages several times faster than the default writer; the
    #: guarded variant never leaves half a message on stdout when a stop signal arrives.
    message_writer_class = GuardedMsgSpecWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "personal_api_key",
            th.StringType(min_length=1),
            required=True,
            secret=True,
            title="Personal API Key",
            description="PostHog personal API key (phx_...). Sent only as a Bearer header.",
        ),
        th.Property(
            "project_id",
            th.CustomType({"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1}),
            title="Project ID",
            description=(
                "Numeric id of the PostHog project (an integer or a numeric string). "
                "Give this or project_ids."
            ),
        ),
        th.Property(
            "project_ids",
            th.ArrayType(
                th.CustomType({"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1})
            ),
            title="Project IDs",
            description=(
                "Several projects in one run: every project-scoped stream reads each project "
                "as its own partition with its own state. Instead of project_id, not with it."
            ),
        ),
        th.Property(
            "optional_streams",
            th.ArrayType(th.StringType),
            title="Optional Streams",
            description=(
                "Streams that may be refused (HTTP 403: missing scope or project access) in a "
                "project: the tap logs a warning naming stream, project and reason and goes "
                "on. Any other stream refused stops the run."
            ),
        ),
        th.Property(
            "base_url",
            th.StringType,
            default="https://us.posthog.com",
            title="Base URL",
            description=(
                "PostHog API host: https://us.posthog.com, https://eu.posthog.com or your "
                "self-hosted URL (scheme and host required)."
            ),
        ),
        th.Property(
            "start_date",
            th.DateTimeType(nullable=True),
            title="Start Date",
            description=(
                "Earliest event timestamp to read on the first sync. When absent, events "
                "start at the project's first event. Other streams are always complete."
            ),
        ),
        th.Property(
            "end_date",
            th.DateTimeType(nullable=True),
            title="End Date",
            description="Read events with a timestamp before this instant only (exclusive).",
        ),
        th.Property(
            "events_page_size",
            th.IntegerType(minimum=1000, maximum=50000),
            default=50000,
            title="Events Page Size",
            description="Rows per HogQL query page (PostHog caps queries at 50,000 rows).",
        ),
        th.Property(
            "events_lookback_hours",
            th.NumberType(minimum=0),
            default=24,
            title="Events Lookback (hours)",
            description=(
                "How late an event may arrive (ingestion time minus event time) and still "
                "be picked up by the next incremental run."
            ),
        ),
        th.Property(
            "events_window_hours",
            th.NumberType(minimum=0.02),
            default=24,
            title="Events Window (hours)",
            description=(
                "Width of the first events query's time window; later windows follow the "
                "density measured (about three quarters of a page each) and narrow when "
                "PostHog finds a query too expensive."
            ),
        ),
        th.Property(
            "events_person_properties",
            th.BooleanType(),
            default=False,
            title="Events Person Properties",
            description=(
                "Give each event person_properties: its person's properties when the event "
                "was ingested (HogQL person.properties). Off by default: where a team's "
                "events do not carry person properties, PostHog joins the persons table "
                "for them, and the events queries get slower."
            ),
        ),
        th.Property(
            "persons_page_size",
            th.IntegerType(minimum=1, maximum=50000),
            default=50000,
            title="Persons Page Size",
            description=(
                "Rows per HogQL query page for persons and person_distinct_ids "
                "(PostHog caps queries at 50,000 rows)."
            ),
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=1, maximum=10000),
            default=1000,
            title="Page Size",
            description="Rows per page on the REST list endpoints (streams not read with HogQL).",
        ),
        th.Property(
            "emit_activate_version_messages",
            th.BooleanType(),
            default=False,
            title="Emit ACTIVATE_VERSION Messages",
            description=(
                "Mark the whole-read streams (all but events) with ACTIVATE_VERSION messages: one "
                "before the first record and one after the last record of a complete read, so a "
                "target can remove rows deleted in PostHog. Off by default: some targets act on "
                "the first message alone."
            ),
        ),
        th.Property(
            "request_timeout",
            th.NumberType(minimum=1),
            default=120,
            title="Request Timeout (seconds)",
            description=(
                "Read timeout of one HTTP request attempt (the connect timeout is 10 s): the "
                "longest PostHog may stay silent before the attempt counts as failed."
            ),
        ),
        th.Property(
            "max_attempts",
            th.IntegerType(minimum=1),
            default=8,
            title="Max Attempts",
            description=(
                "Attempts per request before the tap stops; 429s, 5xx responses, timeouts and "
                "dropped connections all count."
            ),
        ),
        th.Property(
            "rate_limit_share",
            th.NumberType(minimum=0.01, maximum=1),
            default=0.8,
            title="Rate Limit Share",
            description=(
                "Fraction of the team's PostHog rate limits this tap may use, leaving the "
                "rest to dashboards and other clients."
            ),
        ),
        *_rate_settings(),
        th.Property(
            "legacy_query_rate_limit",
            th.BooleanType,
            default=False,
            title="Legacy Query Rate Limit",
            description=(
                "Set when your team is on PostHog's legacy HogQL limit of 120 queries per hour "
                "(429s on the events stream say so): the Query API budget becomes 120/hour."
            ),
        ),
        th.Property(
            "rate_limit_time_scale",
            th.NumberType(minimum=1),
            default=1,
            title="Rate Limit Time Scale",
            description=(
                "Testing aid: divides the rate-limit windows and stated 429 waits "
                "(60 = a minute lasts 1 s)."
            ),
        ),
    ).to_dict()

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
        errors = [_without_secret(error, key) for error in schema_errors]
        if not errors:
            errors = _semantic_errors(self._config)
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


#: Characters a header value may carry (visible ASCII; no spaces, tabs, CR or LF).
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def _without_secret(message: str, key: object) -> str:
    if isinstance(key, str) and key and key in message:
        message = message.replace(key, "***")
    elif key is not None and not isinstance(key, str) and repr(key) in message:
        message = message.replace(repr(key), "***")
    return message


def unknown_setting_warnings(config: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """One warning per config key the tap does not know, naming the closest setting."""
    known = list(schema.get("properties", {}))
    warnings = []
    for name in config:
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        warnings.append(f"unknown setting '{name}' is ignored{hint}")
    return warnings


def _semantic_errors(config: dict[str, Any]) -> list[str]:
    errors = []
    key = config.get("personal_api_key")
    if isinstance(key, str) and key and not _HEADER_SAFE.fullmatch(key):
        errors.append(
            "personal_api_key contains a space, tab, line break or other character that "
            "cannot be sent in an HTTP header (often a trailing newline from copying the "
            "key); remove it"
        )
    errors.extend(_base_url_errors(str(config.get("base_url") or "")))
    errors.extend(project_errors(config))
    known = {stream_class.name for stream_class in STREAM_TYPES}
    unknown = [name for name in config.get("optional_streams") or () if name not in known]
    if unknown:
        errors.append(f"optional_streams names unknown streams: {', '.join(unknown)}")
    dates = {}
    for name in ("start_date", "end_date"):
        if config.get(name):
            problem = check_query_range(name, config[name])
            if problem:
                errors.append(problem)
            else:
                dates[name] = parse_datetime(config[name])
    if len(dates) == 2 and dates["start_date"] >= dates["end_date"]:
        errors.append("end_date must be after start_date")
    return errors


def _base_url_errors(base_url: str) -> list[str]:
    """Problems with ``base_url``; never echoing credentials it may contain."""
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return ["base_url is not a valid URL (bad host or port)"]
    if "@" in base_url:
        return [
            "base_url must not contain credentials (user:password@); PostHog authenticates "
            "with personal_api_key only"
        ]
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return [
            f"base_url must be an http(s) URL with a host, like https://us.posthog.com "
            f"(got {base_url!r})"
        ]
    if parts.query or parts.fragment:
        return ["base_url must not contain a query string or fragment"]
    return []


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
