"""Personal API keys, their scopes and project access checks (PostHog's rules)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from .ids import derived_token
from .render import ApiError

ALL_READ_SCOPES = (
    "project:read",
    "person:read",
    "feature_flag:read",
    "query:read",
    "cohort:read",
    "event_definition:read",
    "property_definition:read",
    "annotation:read",
    "insight:read",
    "dashboard:read",
    "action:read",
    "experiment:read",
    "survey:read",
    "group:read",
    "session_recording:read",
)


@dataclass(frozen=True)
class ApiKey:
    """A personal API key: its value, scopes and optional project restriction."""

    value: str
    scopes: frozenset[str]
    scoped_teams: tuple[int, ...] | None = None

    def allows(self, scope: str) -> bool:
        """True when the key carries ``scope`` (``*`` and ``<object>:write`` also grant read)."""
        obj = scope.split(":")[0]
        return bool({"*", scope, f"{obj}:write"} & self.scopes)


@dataclass(frozen=True)
class Keys:
    """The simulator's keys.

    ``valid`` has every scope; ``missing_scope`` lacks ``person:read`` and ``query:read``;
    ``other_project`` is restricted to the organization's other project; ``project_scoped`` is
    restricted to the main project (the kind of key PostHog recommends).
    """

    valid: str
    missing_scope: str
    other_project: str
    project_scoped: str


def make_keys(
    seed: int, other_project_id: int, project_id: int
) -> tuple[Keys, dict[str, ApiKey]]:
    """Create the keys for a seed, returning the public names and the lookup table."""
    valid = ApiKey("phx_sim_" + derived_token(seed, "key:valid"), frozenset({"*"}))
    missing = ApiKey(
        "phx_sim_" + derived_token(seed, "key:missing_scope"),
        frozenset(s for s in ALL_READ_SCOPES if s not in ("person:read", "query:read")),
    )
    other = ApiKey(
        "phx_sim_" + derived_token(seed, "key:other_project"),
        frozenset({"*"}),
        scoped_teams=(other_project_id,),
    )
    scoped = ApiKey(
        "phx_sim_" + derived_token(seed, "key:project_scoped"),
        frozenset({"*"}),
        scoped_teams=(project_id,),
    )
    table = {k.value: k for k in (valid, missing, other, scoped)}
    return Keys(valid.value, missing.value, other.value, scoped.value), table


def find_key(
    headers: Mapping[str, str], query: Mapping[str, list[str]], body: bytes | None
) -> tuple[str | None, str | None]:
    """Locate a personal API key like ``PersonalAPIKeyAuthentication.find_key_with_source``.

    Returns:
        ``(key, source)`` where source is "Authorization header", "body" or "query string";
        ``(None, None)`` when no key was sent.
    """
    header = headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), "Authorization header"
    if body:
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("personal_api_key"), str):
            return parsed["personal_api_key"], "body"
    values = query.get("personal_api_key")
    if values and values[0]:
        return values[0], "query string"
    return None, None


def authenticate(table: Mapping[str, ApiKey], token: str | None, source: str | None) -> ApiKey:
    """Return the key for ``token`` or raise the 401 PostHog sends."""
    if token is None:
        raise ApiError(
            401,
            "authentication_error",
            "not_authenticated",
            "Authentication credentials were not provided.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = table.get(token)
    if key is None:
        raise ApiError(
            401,
            "authentication_error",
            "authentication_failed",
            f"Personal API key found in request {source} is invalid.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key


#: posthog/permissions.py ``APIScopePermission.check_team_and_org_permissions``: a key with
#: ``scoped_teams`` makes the permission evaluate ``view.team``; outside a project route that
#: raises and becomes this 403 (for example ``GET /api/projects/``).
SCOPED_KEY_NON_PROJECT = (
    "API keys with scoped projects are only supported on project-based endpoints."
)


def check_scope(key: ApiKey, scope: str, project_id: int | None) -> None:
    """Raise 403 when the key is restricted to other projects or lacks ``scope``.

    ``project_id`` is None on routes that are not below a project (the project list, the
    organization's project list): a project-scoped key gets PostHog's 403 there.
    """
    if project_id is None and key.scoped_teams is not None:
        raise ApiError.forbidden(SCOPED_KEY_NON_PROJECT)
    if (
        project_id is not None
        and key.scoped_teams is not None
        and project_id not in key.scoped_teams
    ):
        raise ApiError.forbidden(
            f"API key does not have access to the requested project: ID {project_id}."
        )
    if not key.allows(scope):
        raise ApiError.forbidden(f"API key missing required scope '{scope}'")
