"""PostHogStream: the HTTP behaviour shared by every stream."""

from __future__ import annotations

import time
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
import requests
from singer_sdk import RESTStream
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.schema.source import SchemaDirectory, StreamSchema

from tap_posthog import schemas
from tap_posthog.errors import (
    AccessDeniedError,
    PostHogAPIError,
    fatal_error_message,
    response_detail,
)
from tap_posthog.http import RateBudget, RetryPolicy
from tap_posthog.projects import configured_project_ids, is_partitioned, project_in_path

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from singer_sdk.helpers.types import Context

SCHEMAS_DIR = SchemaDirectory(schemas)
_json_decode = msgspec.json.Decoder().decode

_TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionResetError,
)


class PostHogStream(RESTStream[Any]):
    """Base stream: Bearer auth, explicit timeouts, retries, rate budget, clear errors."""

    records_jsonpath = "$.results[*]"
    schema: ClassVar[StreamSchema] = StreamSchema(SCHEMAS_DIR)
    #: Which PostHog rate-limit class the endpoint belongs to (see ``http.DEFAULT_LIMITS``).
    endpoint_class: ClassVar[str] = "crud"
    #: Decodes a successful response body.
    decode_body: ClassVar[Callable[[bytes | bytearray], Any]] = staticmethod(_json_decode)

    @property
    def url_base(self) -> str:
        """The configured PostHog host, without a trailing slash."""
        return str(self.config["base_url"]).rstrip("/")

    #: False for organisation-level streams (``projects``): never partitioned by project.
    project_scoped: ClassVar[bool] = True

    def project_of(self, context: Context | None) -> int:
        """The project a context reads: its ``project_id``, else the configured one."""
        if context and context.get("project_id") is not None:
            return int(context["project_id"])
        return int(self.config["project_id"])

    @property
    def partitions(self) -> list[dict] | None:
        """One partition ``{"project_id": N}`` per project of ``project_ids``.

        None with ``project_id`` (the state keeps its one-project shape), for
        organisation-level streams and for child streams (their parent passes the project).
        """
        if not self.project_scoped or self.parent_stream_type is not None:
            return None
        if not is_partitioned(self.config):
            return None
        return [{"project_id": pid} for pid in configured_project_ids(self.config)]

    @contextmanager
    def optional_access(self, context: Context | None) -> Iterator[None]:
        """Around reading one context: a 403 ends it if the stream is in ``optional_streams``.

        The skip is logged (stream, project, reason), never silent; a stream not listed
        stops the run with the same one-line message.
        """
        try:
            yield
        except AccessDeniedError as exc:
            if self.name not in (self.config.get("optional_streams") or ()):
                raise
            self.logger.warning("skipping optional %s (listed in optional_streams)", exc)

    @cached_property
    def authenticator(self) -> BearerTokenAuthenticator:
        """The key travels only in the ``Authorization: Bearer`` header."""
        return BearerTokenAuthenticator(token=self.config["personal_api_key"])

    @property
    def timeout(self) -> tuple[float, float]:  # type: ignore[override]
        """(connect, read) timeouts in seconds."""
        return (10.0, float(self.config["request_timeout"]))

    @property
    def retry_policy(self) -> RetryPolicy:
        """The tap-wide retry policy."""
        return self._tap.retry_policy  # type: ignore[attr-defined]

    @property
    def rate_budget(self) -> RateBudget:
        """The tap-wide rate budget (shared by all streams of one run)."""
        return self._tap.rate_budget  # type: ignore[attr-defined]

    def request_decorator(self, func: Callable) -> Callable:
        """Retries live in :meth:`_request`; no extra decorator."""
        return func

    def _request(
        self,
        prepared_request: requests.PreparedRequest,
        context: Context | None,
    ) -> requests.Response:
        """Send one request, retrying 429/5xx and transport failures per the retry policy."""
        policy = self.retry_policy
        path = prepared_request.path_url.split("?", 1)[0]
        transport_started: float | None = None
        attempt = 0
        while True:
            attempt += 1
            self.rate_budget.acquire(self.endpoint_class)
            try:
                response = self.requests_session.send(
                    self.authenticator(prepared_request),
                    timeout=self.timeout,
                    allow_redirects=self.allow_redirects,
                    stream=True,
                )
                if response.status_code < 400:
                    # msgspec's DecodeError is a ValueError
                    body = type(self).decode_body(_read_body(response))
                    response.json_body = body  # type: ignore[attr-defined]
            except (*_TRANSPORT_ERRORS, ValueError) as exc:
                now = time.monotonic()
                transport_started = transport_started or now
                wait = policy.transport_wait(attempt, now - transport_started)
                reason = _transport_reason(exc)
                if wait is None:
                    msg = (
                        f"cannot reach PostHog at {self.url_base}: {reason} "
                        f"(gave up after {attempt} attempts)"
                    )
                    raise PostHogAPIError(msg) from None
                self.logger.warning(
                    "%s %s failed (%s); retry %d in %.1f s",
                    prepared_request.method,
                    path,
                    reason,
                    attempt,
                    wait,
                )
                time.sleep(wait)
                continue
            transport_started = None
            status = response.status_code
            if status == 429 or status >= 500:
                if status == 429:
                    self.rate_budget.throttled(self.endpoint_class)
                wait = policy.server_wait(attempt, response)
                if wait is not None and status == 429:
                    wait = self.rate_budget.scale_wait(wait)
                detail = response_detail(response)
                if wait is None:
                    msg = (
                        f"PostHog kept failing with HTTP {status} for {path} after "
                        f"{attempt} attempts: {detail}"
                    )
                    raise PostHogAPIError(msg)
                self.logger.warning(
                    "%s %s got HTTP %d (%s); retry %d in %.1f s",
                    prepared_request.method,
                    path,
                    status,
                    detail[:120],
                    attempt,
                    wait,
                )
                self.on_retry(status, response)
                time.sleep(wait)
                continue
            if status >= 400:
                self.validate_error(response, path)
            self.rate_budget.succeeded(self.endpoint_class)
            self._write_request_duration_log(
                endpoint=self.path, response=response, context=context, extra_tags=None
            )
            return response

    def on_retry(self, status: int, response: requests.Response) -> None:
        """Hook for streams that react to retriable errors (e.g. narrowing a query)."""

    def validate_error(self, response: requests.Response, path: str) -> None:
        """Raise the fatal error for a 4xx response (a 403 names the stream and project)."""
        project = project_in_path(path)
        named = project if project is not None else ", ".join(
            map(str, configured_project_ids(self.config))
        )
        message = fatal_error_message(response, named, path)
        if response.status_code == 403:
            where = f"stream {self.name}" + (f", project {project}" if project else "")
            raise AccessDeniedError(f"{where}: {message}", stream=self.name, project_id=project)
        raise PostHogAPIError(message)

    def validate_response(self, response: requests.Response) -> None:
        """Statuses are handled in :meth:`_request`."""

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        """Yield the ``results`` of a list envelope (already decoded in :meth:`_request`)."""
        body = getattr(response, "json_body", None)
        if body is None:
            body = response.json()
        yield from body.get("results") or []


def _read_body(response: requests.Response) -> bytearray:
    """Read a streamed body into one growing buffer.

    ``response.content`` joins a list of chunks, briefly holding the body twice.
    """
    body = bytearray()
    for chunk in response.iter_content(1 << 20):
        body += chunk
    return body


def _transport_reason(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "read timed out"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "refused" in text.lower():
            return "connection refused"
        if "Name or service not known" in text or "getaddrinfo" in text:
            return "host name not found"
        return "connection failed"
    if isinstance(exc, ValueError):
        return "truncated or invalid JSON response"
    return type(exc).__name__


__all__ = ["PostHogStream", "RetriableAPIError"]
