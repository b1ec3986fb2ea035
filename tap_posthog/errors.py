"""Fatal PostHog API errors and the one-line messages users see for them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from singer_sdk.exceptions import FatalAPIError

if TYPE_CHECKING:
    import requests

_SCOPE_RE = re.compile(r"missing required scope '([^']+)'")

#: The personal API key scope each stream's endpoint needs (``scope_object`` + ``:read``).
STREAM_SCOPES: dict[str, str] = {
    "projects": "project:read",
    "persons": "person:read",
    "feature_flags": "feature_flag:read",
    "events": "query:read",
    "cohorts": "cohort:read",
    "event_definitions": "event_definition:read",
    "event_property_definitions": "property_definition:read",
    "person_property_definitions": "property_definition:read",
    # posthog/api/session.py SessionViewSet: scope_object = "query"
    "session_property_definitions": "query:read",
    "annotations": "annotation:read",
}

#: What to do about each 402 code PostHog sends (posthog/exceptions.py).
_QUOTA_ADVICE = {
    "api_queries_quota_exceeded": (
        "the organization has read more data through the query API than its free monthly "
        "allowance; wait for the allowance to reset next month or add a billing plan in "
        "PostHog (Organization settings > Billing), then run again"
    ),
    "quota_limit_exceeded": (
        "the organization is over a billing quota or limit; raise the limit under "
        "Organization settings > Billing in PostHog (or wait for the next billing period), "
        "then run again"
    ),
}


class PostHogAPIError(FatalAPIError):
    """An error that stops the tap; ``str(error)`` is the one-line message for the user."""


class AccessDeniedError(PostHogAPIError):
    """HTTP 403: the key may not read one stream in one project (a scope or project access).

    Attributes:
        stream: The stream that was refused.
        project_id: The project it was refused in (None for organisation-level paths).
    """

    def __init__(self, message: str, *, stream: str, project_id: int | None) -> None:
        """Keep the stream and project next to the one-line message."""
        super().__init__(message)
        self.stream = stream
        self.project_id = project_id


def response_detail(response: requests.Response) -> str:
    """Return PostHog's ``detail`` from an error body, or a short text excerpt."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("detail"):
        return " ".join(str(body["detail"]).split())
    text = " ".join(response.text.split())
    if "<html" in text.lower():
        return response.reason or "HTML error page"
    return text[:200] or (response.reason or "")


def _error_code(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("code") or "") if isinstance(body, dict) else ""


def safe_url(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``: no credentials, no query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def not_api_message(response: requests.Response) -> str:
    """The error for a 2xx answer that is not JSON: ``base_url`` points at something else."""
    content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
    return (
        f"`base_url` does not look like PostHog's API: got {content_type or 'no content type'} "
        f"from {safe_url(response.url)} (use the API host, e.g. https://us.posthog.com or "
        "https://eu.posthog.com, or your self-hosted PostHog's URL)"
    )


def fatal_error_message(
    response: requests.Response,
    project_id: int | str,
    path: str,
    *,
    stream: str | None = None,
    scope: str | None = None,
) -> str:
    """Build the one-line message for a non-retriable HTTP status.

    Args:
        response: The failed response.
        project_id: The project of the request, named in access errors.
        path: The URL path (never the query string, never the key).
        stream: The stream that made the request, named in the message.
        scope: The key scope that stream needs, named in permission errors.

    Returns:
        A message that says which problem it is: invalid key, missing scope, no access, not
        found, quota used up; and for which stream and scope.
    """
    status = response.status_code
    detail = response_detail(response)
    where = f"stream {stream}: " if stream else ""
    needs = f" (stream {stream} needs scope '{scope}')" if stream and scope else ""
    if status == 401:  # about the key, whichever stream asked: no stream prefix
        return (
            "invalid personal API key (HTTP 401): PostHog rejected the key; "
            f"create one under Settings > Personal API keys. Server said: {detail}"
        )
    if status == 402:
        code = _error_code(response)
        advice = _QUOTA_ADVICE.get(code, "check the organization's billing in PostHog")
        return (
            f"{where}PostHog refused the request (HTTP 402 {code or 'payment required'}): "
            f"{advice}. Server said: {detail}"
        )
    if status == 403:
        scope_match = _SCOPE_RE.search(detail)
        if scope_match:
            return (
                f"{where}personal API key is missing scope '{scope_match.group(1)}' "
                "(HTTP 403); add it to the key's scopes"
            )
        return f"{where}no access to project {project_id} (HTTP 403){needs}: {detail}"
    if status == 404:
        if "endpoint" in detail.lower():
            return f"{where}endpoint not found (HTTP 404): {path}; is base_url a PostHog API host?"
        return f"{where}project {project_id} not found (HTTP 404): {detail}"
    return f"{where}PostHog rejected the request (HTTP {status}) for {path}: {detail}"
