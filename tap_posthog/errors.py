"""Fatal PostHog API errors and the one-line messages users see for them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from singer_sdk.exceptions import FatalAPIError

if TYPE_CHECKING:
    import requests

_SCOPE_RE = re.compile(r"missing required scope '([^']+)'")


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


def fatal_error_message(
    response: requests.Response, project_id: int | str, path: str
) -> str:
    """Build the one-line message for a non-retriable HTTP status.

    Args:
        response: The failed response.
        project_id: The project of the request, named in access errors.
        path: The URL path (never the query string, never the key).

    Returns:
        A message that says which problem it is: invalid key, missing scope, no access, not found.
    """
    status = response.status_code
    detail = response_detail(response)
    if status == 401:
        return (
            "invalid personal API key (HTTP 401): PostHog rejected the key; "
            f"create one under Settings > Personal API keys. Server said: {detail}"
        )
    if status == 403:
        scope = _SCOPE_RE.search(detail)
        if scope:
            return (
                f"personal API key is missing scope '{scope.group(1)}' (HTTP 403); "
                "add it to the key's scopes"
            )
        return f"no access to project {project_id} (HTTP 403): {detail}"
    if status == 404:
        if "endpoint" in detail.lower():
            return f"endpoint not found (HTTP 404): {path}; is base_url a PostHog API host?"
        return f"project {project_id} not found (HTTP 404): {detail}"
    return f"PostHog rejected the request (HTTP {status}) for {path}: {detail}"
