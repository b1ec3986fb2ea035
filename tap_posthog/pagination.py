"""Paginator for PostHog's DRF list envelopes (``{"next": url, "results": [...]}``)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from singer_sdk.pagination import BaseAPIPaginator, OffsetPaginator

if TYPE_CHECKING:
    import requests


class NextLinkPaginator(BaseAPIPaginator[dict[str, str] | None]):
    """Follows ``next`` until it is null.

    The token is the query string of the ``next`` link only: requests keep the configured
    host and path, even if a self-hosted instance renders links with an internal host.
    Short and empty pages are normal (persons), so an empty page with a ``next`` link
    does not end the stream.
    """

    def __init__(self) -> None:
        """Start on the first page (no token)."""
        super().__init__(None)

    def get_next(self, response: requests.Response) -> dict[str, str] | None:
        """Return the query parameters of the ``next`` link, or None on the last page."""
        body = getattr(response, "json_body", None) or response.json()
        link = body.get("next")
        if not link:
            return None
        return dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))

    def continue_if_empty(self, response: requests.Response) -> bool:
        """Keep going through an empty page when the server still links a next one."""
        body = getattr(response, "json_body", None) or response.json()
        return bool(body.get("next"))


class HasNextOffsetPaginator(OffsetPaginator):
    """Offset pages of ``{"results": [...], "has_next": bool}`` (no ``next`` URL).

    PostHog's session-recordings list answers this way: ``has_next`` is true when a row exists
    beyond ``offset + limit``, so the next page starts ``limit`` rows further.
    """

    def has_more(self, response: requests.Response) -> bool:
        """True while the server says another page exists."""
        body = getattr(response, "json_body", None) or response.json()
        return bool(body.get("has_next"))
