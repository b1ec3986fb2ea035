"""Config checks beyond the schema, and messages that never carry the key."""

from __future__ import annotations

import difflib
import re
from typing import Any
from urllib.parse import urlsplit

from tap_posthog.projects import project_errors
from tap_posthog.timeutil import check_query_range, parse_datetime

#: Characters a header value may carry (visible ASCII; no spaces, tabs, CR or LF).
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def without_secret(message: str, key: object) -> str:
    """``message`` with the key (or its repr, for a non-string key) replaced by ``***``."""
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


def semantic_errors(config: dict[str, Any], stream_names: set[str]) -> list[str]:
    """What the schema cannot express: header-safe key, base_url, projects, streams, dates."""
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
    unknown = [n for n in config.get("optional_streams") or () if n not in stream_names]
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
