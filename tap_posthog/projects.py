"""Which projects a run reads: ``project_id`` (one) or ``project_ids`` (one partition each).

With ``project_ids`` every project-scoped stream is a set of SDK partitions, one context
``{"project_id": N}`` per project, so each project keeps its own state. With ``project_id``
alone the streams are not partitioned and the state keeps its single-project shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PATH_PROJECT = re.compile(r"^/api/(?:projects|environments)/(\d+)(?:/|$)")


def _as_id(value: Any) -> int | None:
    text = str(value).strip()
    return int(text) if text.isdigit() and int(text) >= 1 else None


def is_partitioned(config: Mapping[str, Any]) -> bool:
    """True when the run reads the projects listed in ``project_ids``."""
    return config.get("project_ids") is not None


def configured_project_ids(config: Mapping[str, Any]) -> list[int]:
    """The projects to read, in the order given (assumes :func:`project_errors` is empty)."""
    if is_partitioned(config):
        return [int(str(v).strip()) for v in config["project_ids"]]
    return [int(str(config["project_id"]).strip())]


def project_errors(config: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``project_id`` / ``project_ids``, as one-line messages."""
    single, many = config.get("project_id"), config.get("project_ids")
    if single is not None and many is not None:
        return ["give project_id or project_ids, not both"]
    if single is None and many is None:
        return ["project_id (or project_ids) is required"]
    if single is not None:
        if _as_id(single) is None:
            return [f"project_id must be a positive integer (got {str(single)!r})"]
        return []
    if not isinstance(many, list) or not many:
        return ["project_ids must be a non-empty list of project ids"]
    bad = [str(v) for v in many if _as_id(v) is None]
    if bad:
        return [f"project_ids must be positive integers (got {', '.join(map(repr, bad))})"]
    ids = [_as_id(v) for v in many]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        return [f"project_ids lists {', '.join(map(str, repeated))} more than once"]
    return []


def project_in_path(path: str) -> int | None:
    """The project id in an API path (``/api/projects/N/...``), if it has one."""
    match = _PATH_PROJECT.match(path)
    return int(match.group(1)) if match else None
