"""The tap's settings: the JSON schema ``--about``, ``meltano.yml`` and the README list."""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

from tap_posthog.http import DEFAULT_LIMITS

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


#: The settings as a JSON schema (``TapPostHog.config_jsonschema``).
CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
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
