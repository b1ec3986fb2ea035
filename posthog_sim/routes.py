"""Routing and the request pipeline: resolve, authenticate, authorize, throttle, dispatch."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import endpoints as ep
from . import further_endpoints as fe
from .auth import ApiKey, authenticate, check_scope, find_key
from .dataset import Dataset
from .faults import FaultInjector
from .hooks import Hooks
from .http_types import Request, Response
from .ratelimit import RateLimiter
from .render import ApiError, json_response
from .sessions import list_session_property_definitions


def _query(ctx: ep.Ctx) -> Response:
    try:
        body = json.loads(ctx.request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_request", "parse_error", f"JSON parse error - {exc}") from exc
    queries = ctx.data.queries.get(ctx.project_id or 0)
    if queries is None:
        raise ApiError.validation("This project has no events table in the simulator")
    result, rows_read, bytes_read = queries.run(body)
    response = json_response(result)
    response.rows = len(result["results"])
    response.rows_read, response.bytes_read = rows_read, bytes_read
    return response


def _session_property_definitions(ctx: ep.Ctx) -> Response:
    return list_session_property_definitions(
        ctx.request.param("search"), ctx.request.param("is_numerical")
    )


@dataclass(frozen=True)
class Endpoint:
    """A route: handler, required scope, allowed methods and throttle class."""

    name: str
    handler: Callable[[ep.Ctx], Response]
    scope: str
    methods: tuple[str, ...] = ("GET",)
    throttle: str = "default"
    project_scoped: bool = True
    is_list: bool = True


_P = r"^/api/(?:projects|environments)/(?P<pid>[^/]+)"
ROUTES: tuple[tuple[re.Pattern[str], Endpoint], ...] = (
    (
        re.compile(r"^/api/projects/?$"),
        Endpoint("projects", ep.list_projects, "project:read", project_scoped=False),
    ),
    (
        re.compile(r"^/api/organizations/(?P<org>[^/]+)/projects/?$"),
        Endpoint("org_projects", ep.list_projects, "project:read", project_scoped=False),
    ),
    (
        re.compile(_P + r"/?$"),
        Endpoint("project", ep.project_detail, "project:read", is_list=False),
    ),
    (
        re.compile(_P + r"/persons/?$"),
        Endpoint("persons", ep.list_persons, "person:read", throttle="persons"),
    ),
    (
        re.compile(_P + r"/feature_flags/?$"),
        Endpoint("feature_flags", ep.list_flags, "feature_flag:read"),
    ),
    (re.compile(_P + r"/cohorts/?$"), Endpoint("cohorts", ep.list_cohorts, "cohort:read")),
    (
        re.compile(_P + r"/event_definitions/?$"),
        Endpoint("event_definitions", ep.list_event_definitions, "event_definition:read"),
    ),
    (
        re.compile(_P + r"/property_definitions/?$"),
        Endpoint("property_definitions", ep.list_property_definitions, "property_definition:read"),
    ),
    (
        # posthog/api/session.py SessionViewSet: scope object "query", ClickHouse throttles.
        re.compile(_P + r"/sessions/property_definitions/?$"),
        Endpoint(
            "session_property_definitions",
            _session_property_definitions,
            "query:read",
            throttle="clickhouse",
        ),
    ),
    (
        re.compile(_P + r"/annotations/?$"),
        Endpoint("annotations", ep.list_annotations, "annotation:read"),
    ),
    # The further tables: posthog-real.md section 12 names each PostHog file.
    (
        re.compile(_P + r"/insights/?$"),
        Endpoint("insights", fe.list_insights, "insight:read", throttle="clickhouse"),
    ),
    (
        re.compile(_P + r"/dashboards/?$"),
        Endpoint("dashboards", fe.list_dashboards, "dashboard:read"),
    ),
    (re.compile(_P + r"/actions/?$"), Endpoint("actions", fe.list_actions, "action:read")),
    (
        re.compile(_P + r"/experiments/?$"),
        Endpoint("experiments", fe.list_experiments, "experiment:read"),
    ),
    (re.compile(_P + r"/surveys/?$"), Endpoint("surveys", fe.list_surveys, "survey:read")),
    (
        re.compile(_P + r"/groups_types/?$"),
        Endpoint("group_types", fe.list_group_types, "group:read"),
    ),
    (re.compile(_P + r"/groups/?$"), Endpoint("groups", fe.list_groups, "group:read")),
    (
        re.compile(_P + r"/session_recordings/?$"),
        Endpoint(
            "session_recordings",
            fe.list_session_recordings,
            "session_recording:read",
            throttle="clickhouse",
        ),
    ),
    (
        re.compile(_P + r"/cohorts/(?P<cohort_id>[0-9]+)/persons/?$"),
        Endpoint("cohort_persons", fe.list_cohort_persons, "cohort:read"),
    ),
    (
        re.compile(_P + r"/query/?$"),
        Endpoint("query", _query, "query:read", methods=("POST",), throttle="query", is_list=False),
    ),
)


class App:
    """Everything a request needs besides HTTP plumbing."""

    def __init__(
        self,
        data: Dataset,
        keys: Mapping[str, ApiKey],
        faults: FaultInjector,
        hooks: Hooks,
        limiter: RateLimiter | None,
    ) -> None:
        """Wire the dataset, key table, faults, hooks and optional rate limiter."""
        self.data, self.keys, self.faults, self.hooks, self.limiter = (
            data,
            keys,
            faults,
            hooks,
            limiter,
        )

    def handle(self, request: Request) -> tuple[Response, str | None]:
        """Serve one request; return the response and where the API key was found."""
        token, source = find_key(request.headers, request.query, request.body)
        try:
            return self._dispatch(request, token, source), source
        except ApiError as err:
            return err.response(), source

    def _dispatch(self, request: Request, token: str | None, source: str | None) -> Response:
        endpoint, match = self._resolve(request.path)
        key = authenticate(self.keys, token, source)
        project_id = None
        if endpoint.project_scoped:
            project_id = self._project_id(match.group("pid"))
            check_scope(key, endpoint.scope, project_id)
            project = self.data.projects.get(project_id)
            if project is None:
                raise ApiError.not_found("Project not found.")
            if project["organization"] != self.data.org_id:
                raise ApiError.forbidden("You don't have access to the project.")
        else:
            check_scope(key, endpoint.scope, None)
            org = match.groupdict().get("org")
            if org not in (None, "@current", self.data.org_id):
                raise ApiError.forbidden("You don't have access to this organization.")
        if request.method not in endpoint.methods:
            raise ApiError(
                405,
                "invalid_request",
                "method_not_allowed",
                f'Method "{request.method}" not allowed.',
            )
        if self.limiter is not None:
            # legacy teams' HogQLQueryThrottle: RateLimiter(legacy_query=...), see ratelimit.py
            wait = self.limiter.check(endpoint.throttle)
            if wait is not None:
                self.faults.count_rate_limited()
                raise ApiError.throttled(wait)
        if (endpoint.is_list and request.method == "GET") or endpoint.name == "query":
            # a HogQL query is a page too (keyset-paged tables)
            self.hooks.run(request.path)
        with self.data.lock:
            return endpoint.handler(ep.Ctx(self.data, request, project_id, key, match.groupdict()))

    @staticmethod
    def _resolve(path: str) -> tuple[Endpoint, re.Match[str]]:
        for pattern, endpoint in ROUTES:
            match = pattern.match(path)
            if match:
                return endpoint, match
        raise ApiError.not_found("Endpoint not found.")

    def _project_id(self, raw: str) -> int:
        if raw == "@current":
            return self.data.project_id
        if not raw.isdigit():
            raise ApiError.not_found("Project not found.")
        return int(raw)
