"""Response bodies: JSON encoding, DRF record rendering and drf-exceptions-hog error bodies."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .http_types import Response
from .times import render_drf


def dumps(payload: Any) -> bytes:
    """Encode like DRF's JSONRenderer (compact, UTF-8, non-ASCII kept)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response."""
    return Response(status, dumps(payload), headers=dict(headers or {}))


def public(record: dict[str, Any]) -> dict[str, Any]:
    """Render an internal record: drop ``_private`` keys, datetimes as DRF strings."""
    return {
        key: render_drf(value) if isinstance(value, datetime) else value
        for key, value in record.items()
        if not key.startswith("_")
    }


class ApiError(Exception):
    """An error rendered as ``{"type","code","detail","attr"}``."""

    def __init__(
        self,
        status: int,
        type_: str,
        code: str,
        detail: str,
        attr: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Store the pieces of the error body."""
        super().__init__(detail)
        self.status, self.type, self.code, self.detail, self.attr = (
            status,
            type_,
            code,
            detail,
            attr,
        )
        self.headers = dict(headers or {})
        #: ClickHouse statistics of a query that ran before the error (request log only).
        self.rows_read: int | None = None
        self.bytes_read: int | None = None

    def response(self) -> Response:
        """The error as an HTTP response."""
        body = {"type": self.type, "code": self.code, "detail": self.detail, "attr": self.attr}
        response = json_response(body, self.status, self.headers)
        response.rows_read, response.bytes_read = self.rows_read, self.bytes_read
        return response

    @classmethod
    def validation(cls, detail: str, attr: str | None = None) -> ApiError:
        """400 validation_error / invalid_input."""
        return cls(400, "validation_error", "invalid_input", detail, attr)

    @classmethod
    def not_found(cls, detail: str = "Endpoint not found.") -> ApiError:
        """404 invalid_request / not_found."""
        return cls(404, "invalid_request", "not_found", detail)

    @classmethod
    def forbidden(cls, detail: str) -> ApiError:
        """403 authentication_error / permission_denied."""
        return cls(403, "authentication_error", "permission_denied", detail)

    @classmethod
    def throttled(cls, wait_seconds: int) -> ApiError:
        """429 as drf-exceptions-hog renders DRF's Throttled (no Retry-After header)."""
        unit = "second" if wait_seconds == 1 else "seconds"
        return cls(
            429,
            "throttled_error",
            "throttled",
            f"Request was throttled. Expected available in {wait_seconds} {unit}.",
        )


GATEWAY_PAGES = {
    502: "502 Bad Gateway",
    504: "504 Gateway Time-out",
}


def gateway_page(status: int) -> Response:
    """An HTML error page as a load balancer would send it."""
    title = GATEWAY_PAGES[status]
    html = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}"
        "</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(status, html.encode(), content_type="text/html")
