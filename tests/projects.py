"""Helpers for the several-projects tests: configs and the rows the tap should emit per project."""

from __future__ import annotations

from typing import Any

from posthog_sim import Simulator
from posthog_sim.truth import STREAMS
from tests.helpers import tap_config

#: Every stream read per project (``projects`` is the organisation's list).
PROJECT_STREAMS = [name for name in STREAMS if name != "projects"]
#: Project-scoped streams without a parent: one state partition per project.
TOP_LEVEL = [name for name in PROJECT_STREAMS if name not in ("groups", "cohort_people")]
_SECRETS = ("secret_api_token", "secret_api_token_backup")


def two_project_config(sim: Simulator, key: str | None = None) -> dict[str, Any]:
    """Tap config reading the organisation's two projects through ``project_ids``."""
    config = tap_config(sim)
    del config["project_id"]
    config["project_ids"] = [sim.project_id, sim.other_project_id]
    if key is not None:
        config["personal_api_key"] = key
    return config


def expected_rows(sim: Simulator, stream: str, project_id: int) -> list[dict[str, Any]]:
    """Ground truth of one project, with what the tap adds (``type``) or drops (secrets)."""
    rows = sim.truth.records(stream, project_id)
    if stream in ("event_property_definitions", "person_property_definitions"):
        kind = stream.split("_")[0]
        # virtual ``$builtin_*`` rows have no updated_at: the tap emits the key as null
        return [{"updated_at": None, **row, "type": kind} for row in rows]
    if stream == "session_property_definitions":  # one unpaginated list, no updated_at
        return [{**row, "type": "session"} for row in rows]
    if stream == "projects":
        return [{k: v for k, v in row.items() if k not in _SECRETS} for row in rows]
    return rows
