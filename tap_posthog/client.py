"""PostHogStream: the HTTP behaviour shared by every stream.

Requests go through the SDK's own ``_request`` (send, then :meth:`PostHogStream.validate_response`)
wrapped by its ``request_decorator`` (the ``backoff`` package). The tap only fills in the SDK's
public hooks: ``validate_response`` sorts responses into retriable, fatal and good (and decodes
the body), ``backoff_wait_generator``/``backoff_runtime`` choose each wait, ``backoff_max_tries``
caps attempts, ``backoff_handler`` logs each retry and lets a stream react (:meth:`on_retry`).
``request_decorator`` adds the rate budget before every attempt and turns a final failure into
one line for the user.
"""

from __future__ import annotations

import functools
import logging
import re
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import msgspec
import requests
from singer_sdk import RESTStream
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.schema.source import SchemaDirectory, StreamSchema

from tap_posthog import schemas
from tap_posthog.errors import (
    STREAM_SCOPES,
    AccessDeniedError,
    PostHogAPIError,
    fatal_error_message,
    not_api_message,
    response_detail,
)
from tap_posthog.http import RateBudget, RetryPolicy
from tap_posthog.projects import configured_project_ids, is_partitioned, project_in_path

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator

    from backoff.types import Details
    from singer_sdk.helpers.types import Context

SCHEMAS_DIR = SchemaDirectory(schemas)
_json_decode = msgspec.json.Decoder().decode

#: Failures that never produced a response; the SDK's decorator retries exactly these.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionResetError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


#: How every retry line ends, e.g. ``; waiting 2.0 s, then retry (attempt 1 of 8 failed)``.
RETRY_LOG_SUFFIX = "; waiting {wait:.1f} s, then retry (attempt {attempt} of {max_attempts} failed)"
#: Matches a retry line's ending (for log readers such as omniload's progress).
RETRY_LOG_PATTERN = re.compile(
    r"; waiting (?P<wait>\d+(?:\.\d+)?) s, then retry "
    r"\(attempt (?P<attempt>\d+) of (?P<max_attempts>\d+) failed\)"
)


class InvalidBodyError(RetriableAPIError):
    """A 2xx response whose JSON body does not decode (cut short on the way)."""


class _RetryWaits:
    """The wait before each retry of one request, from the failure that ended the attempt.

    One instance per request (the SDK asks ``backoff_wait_generator`` for a fresh generator
    on every call), so ``attempt`` counts that request's failures.
    """

    def __init__(self, stream: PostHogStream) -> None:
        self.stream = stream
        self.attempt = 0

    def __call__(self, exc: BaseException) -> float:
        self.attempt += 1
        policy = self.stream.retry_policy
        response = getattr(exc, "response", None)
        if not isinstance(exc, RetriableAPIError) or response is None:
            return policy.transport_wait(self.attempt)
        if isinstance(exc, InvalidBodyError):
            return policy.transport_wait(self.attempt)
        wait = policy.server_wait(self.attempt, response)
        if response.status_code == 429:
            # A stated wait is in PostHog's seconds; the budget's time scale converts it.
            wait = self.stream.rate_budget.scale_wait(wait)
        return wait


class PostHogStream(RESTStream[Any]):
    """Base stream: Bearer auth, explicit timeouts, retries, rate budget, clear errors."""

    records_jsonpath = "$.results[*]"
    schema: ClassVar[StreamSchema] = StreamSchema(SCHEMAS_DIR)
    #: Which PostHog rate-limit class the endpoint belongs to (see ``http.DEFAULT_LIMITS``).
    endpoint_class: ClassVar[str] = "crud"
    #: Decodes a successful response body.
    decode_body: ClassVar[Callable[[bytes | bytearray], Any]] = staticmethod(_json_decode)
    #: The personal API key scope the endpoint needs (None: look it up by stream name).
    required_scope: ClassVar[str | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Create the stream; its logger leaves retry lines to :meth:`backoff_handler`."""
        super().__init__(*args, **kwargs)
        self.logger.addFilter(_BACKOFF_FILTER)

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
    def scope(self) -> str:
        """The key scope this stream needs, named in permission errors."""
        return self.required_scope or STREAM_SCOPES.get(self.name, "unknown")

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

    # -- sending ----------------------------------------------------------------------

    def request_decorator(self, func: Callable) -> Callable:
        """The SDK's backoff decorator, with the rate budget inside and one-line failures outside.

        Every attempt first waits for room in the endpoint class's budget. When the last
        attempt fails, the error says what happened, where, and after how many attempts.
        """

        @functools.wraps(func)
        def paced(prepared_request: requests.PreparedRequest, context: Context | None) -> Any:
            self.rate_budget.acquire(self.endpoint_class)
            response = func(prepared_request, context)
            self.rate_budget.succeeded(self.endpoint_class)
            return response

        retried = super().request_decorator(paced)

        @functools.wraps(func)
        def send(prepared_request: requests.PreparedRequest, context: Context | None) -> Any:
            try:
                return retried(prepared_request, context)
            except RetriableAPIError as exc:
                raise PostHogAPIError(self._gave_up_message(prepared_request, exc)) from None
            except TRANSPORT_ERRORS as exc:
                raise PostHogAPIError(self._unreachable_message(exc)) from None

        return send

    def send(
        self, prepared_request: requests.PreparedRequest, context: Context | None = None
    ) -> requests.Response:
        """Send one request with the stream's retries and budget (for non-paginated calls)."""
        return self.request_decorator(self._request)(prepared_request, context)  # type: ignore[no-any-return]

    def backoff_max_tries(self) -> int:
        """Attempts per request, counting 429s, 5xx, timeouts and dropped connections."""
        return self.retry_policy.max_attempts

    def backoff_wait_generator(self) -> Generator[float, None, None]:
        """Waits chosen from each failure: the server's stated wait, or exponential backoff."""
        return self.backoff_runtime(value=_RetryWaits(self))

    def backoff_jitter(self, value: float) -> float:
        """No jitter: a stated wait is waited in full, and the bound stays exact."""
        return value

    def backoff_handler(self, details: Details) -> None:
        """Log every retry (what failed, the wait, the limit) and let the stream react."""
        exc = details.get("exception")
        wait = float(details.get("wait") or 0.0)
        tries = int(details.get("tries") or 0)
        args = details.get("args") or ()
        prepared = args[0] if args else None
        target = _request_line(prepared)
        response = getattr(exc, "response", None)
        limit = self.rate_budget.describe(self.endpoint_class)
        then = RETRY_LOG_SUFFIX.format(
            wait=wait, attempt=tries, max_attempts=self.retry_policy.max_attempts
        )
        if isinstance(exc, RetriableAPIError) and response is not None and not isinstance(
            exc, InvalidBodyError
        ):
            status = response.status_code
            detail = response_detail(response)[:160]
            if status == 429:
                self.rate_budget.throttled(self.endpoint_class)
                self.logger.warning(
                    "%s: rate limited by PostHog (HTTP 429: %s; limit class %s: %s)%s",
                    target,
                    detail,
                    self.endpoint_class,
                    limit,
                    then,
                )
            else:
                self.logger.warning("%s: HTTP %d (%s)%s", target, status, detail, then)
            self.on_retry(status, response)
            return
        self.logger.warning("%s: %s%s", target, _transport_reason(exc, self.timeout[1]), then)

    def on_retry(self, status: int, response: requests.Response) -> None:
        """Hook called before a 429/5xx is retried (e.g. to narrow a query instead)."""

    # -- responses --------------------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
        """Sort a response: 429/5xx retriable, other 4xx fatal, 2xx decoded.

        A 2xx that is not JSON (an HTML page from the app host or a proxy) is fatal at once:
        ``base_url`` points somewhere else. The decoded body is kept as ``json_body``.
        """
        status = response.status_code
        if status == 429 or status >= 500:
            raise RetriableAPIError(f"HTTP {status}: {response_detail(response)}", response)
        if status >= 400:
            path = urlsplit(response.url).path or self.path
            project = project_in_path(path)
            named = project if project is not None else ", ".join(
                map(str, configured_project_ids(self.config))
            )
            message = fatal_error_message(
                response, named, path, stream=self.name, scope=self.scope
            )
            if status == 403:  # a stream refused in one project: optional_streams may skip it
                if project is not None:
                    message = message.replace(
                        f"stream {self.name}: ", f"stream {self.name}, project {project}: ", 1
                    )
                raise AccessDeniedError(message, stream=self.name, project_id=project)
            raise PostHogAPIError(message)
        content_type = response.headers.get("Content-Type", "")
        if "json" not in content_type.lower():
            raise PostHogAPIError(not_api_message(response))
        try:
            body = type(self).decode_body(response.content)
        except ValueError:  # msgspec's DecodeError is a ValueError
            msg = "truncated or invalid JSON response"
            raise InvalidBodyError(msg, response) from None
        response.json_body = body  # type: ignore[attr-defined]

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        """Yield the ``results`` of a list envelope (decoded in :meth:`validate_response`)."""
        body = getattr(response, "json_body", None)
        if body is None:
            body = response.json()
        yield from body.get("results") or []

    # -- messages ---------------------------------------------------------------------

    def _gave_up_message(
        self, prepared: requests.PreparedRequest, exc: RetriableAPIError
    ) -> str:
        attempts = self.retry_policy.max_attempts
        path = _path(prepared)
        response = exc.response
        if isinstance(exc, InvalidBodyError) or response is None:
            return (
                f"PostHog sent a truncated or invalid JSON body for {path} "
                f"{attempts} times (stream {self.name})"
            )
        return (
            f"PostHog kept failing with HTTP {response.status_code} for {path} after "
            f"{attempts} attempts (stream {self.name}): {response_detail(response)}"
        )

    def _unreachable_message(self, exc: BaseException) -> str:
        return (
            f"cannot reach PostHog at {self.url_base}: "
            f"{_transport_reason(exc, self.timeout[1])} "
            f"(gave up after {self.retry_policy.max_attempts} attempts, stream {self.name})"
        )


def _path(prepared: requests.PreparedRequest | None) -> str:
    if prepared is None or not prepared.path_url:
        return "?"
    return prepared.path_url.split("?", 1)[0]


def _request_line(prepared: requests.PreparedRequest | None) -> str:
    method = getattr(prepared, "method", None) or "?"
    return f"{method} {_path(prepared)}"


def _transport_reason(exc: BaseException | None, read_timeout: float) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out (no connection within 10 s)"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"read timed out (no answer within request_timeout = {read_timeout:g} s)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection dropped mid-response"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "refused" in text.lower():
            return "connection refused"
        if "Name or service not known" in text or "getaddrinfo" in text:
            return "host name not found"
        if "RemoteDisconnected" in text or "aborted" in text.lower():
            return "connection dropped before a response"
        return "connection failed"
    if isinstance(exc, InvalidBodyError):
        return "truncated or invalid JSON response"
    return type(exc).__name__ if exc is not None else "unknown failure"


class _BackoffLinesFilter(logging.Filter):
    """Drop the ``backoff`` package's own lines.

    :meth:`PostHogStream.backoff_handler` logs each retry with more detail, and a final
    failure is the tap's one-line error.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "backoff" not in record.pathname.replace("\\", "/").split("/")[-2:-1]


_BACKOFF_FILTER = _BackoffLinesFilter()

__all__ = ["RETRY_LOG_PATTERN", "PostHogStream", "RetriableAPIError"]
