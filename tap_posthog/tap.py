"""TapPostHog: settings, config checks, the stream list and one-line fatal errors."""

from __future__ import annotations

import logging
import sys
from typing import Any
from urllib.parse import urlsplit

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError

from tap_posthog import cohort_people, group_streams, product_streams, recording_streams, streams
from tap_posthog.errors import PostHogAPIError
from tap_posthog.events import EventsStream
from tap_posthog.http import DEFAULT_LIMITS, RateBudget, RetryPolicy
from tap_posthog.projects import project_errors
from tap_posthog.sessions import SessionsStream
from tap_posthog.timeutil import parse_datetime

STREAM_TYPES = [
    streams.ProjectsStream,
    streams.PersonsStream,
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
    #: msgspec serialises Singer messages several times faster than the default writer.
    message_writer_class = MsgSpecWriter

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
                "Initial width of the time window one events query covers; windows grow "
                "over sparse data and shrink after a query hits PostHog's time limit."
            ),
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=1, maximum=10000),
            default=1000,
            title="Page Size",
            description="Rows per page on the REST list endpoints (all streams but events).",
        ),
        th.Property(
            "request_timeout",
            th.NumberType(minimum=1),
            default=120,
            title="Request Timeout (seconds)",
            description="Read timeout of one HTTP request (the connect timeout is 10 s).",
        ),
        th.Property(
            "max_attempts",
            th.IntegerType(minimum=1),
            default=8,
            title="Max Attempts",
            description="Attempts per request on 429 and 5xx responses before the tap stops.",
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
        self.rate_budget = RateBudget(
            {
                kind: (
                    float(config.get(f"{kind}_rate_per_minute", minute)),
                    float(config.get(f"{kind}_rate_per_hour", hour)),
                )
                for kind, (minute, hour) in DEFAULT_LIMITS.items()
            },
            share=float(config.get("rate_limit_share", 0.8)),
            time_scale=float(config.get("rate_limit_time_scale", 1)),
        )

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate against the schema, then check what a schema cannot express."""
        errors = super()._validate_config(raise_errors=False)
        if not errors:
            errors = _semantic_errors(self._config)
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return errors

    def discover_streams(self) -> list[streams.PostHogStream]:
        """Return one instance of every stream."""
        return [stream_class(tap=self) for stream_class in STREAM_TYPES]

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Run the sync; fatal errors end with one line on stderr and exit code 1."""
        try:
            super().invoke(*args, **kwargs)
        except PostHogAPIError as exc:
            _fail(str(exc))
        except ConfigValidationError as exc:
            _fail("invalid config: " + "; ".join(exc.errors or [str(exc)]))


class _NullBookmarkFilter(logging.Filter):
    """Silence the SDK's per-record warning for null replication values (nullable keys)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "New replication value is null"


logging.getLogger("singer_sdk").addFilter(_NullBookmarkFilter())


def _semantic_errors(config: dict[str, Any]) -> list[str]:
    errors = []
    base_url = str(config.get("base_url") or "")
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        errors.append(
            f"base_url must be an http(s) URL with a host, like https://us.posthog.com "
            f"(got {base_url!r})"
        )
    elif parts.query or parts.username:
        errors.append("base_url must not contain a query string or credentials")
    errors.extend(project_errors(config))
    known = {stream_class.name for stream_class in STREAM_TYPES}
    unknown = [name for name in config.get("optional_streams") or () if name not in known]
    if unknown:
        errors.append(f"optional_streams names unknown streams: {', '.join(unknown)}")
    start, end = config.get("start_date"), config.get("end_date")
    try:
        if start and end and parse_datetime(start) >= parse_datetime(end):
            errors.append("end_date must be after start_date")
    except ValueError as exc:
        errors.append(f"invalid date: {exc}")
    return errors


def _fail(message: str) -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    sys.stderr.write(f"tap-posthog: {' '.join(message.split())}\n")
    sys.stderr.flush()
    sys.exit(1)
