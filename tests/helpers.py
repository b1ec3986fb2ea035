"""Small helpers shared by tests."""

from __future__ import annotations

from typing import Any

import requests

from posthog_sim import Simulator


def tap_config(sim: Simulator) -> dict[str, Any]:
    """Minimal tap-posthog config pointing at a running simulator."""
    return {"personal_api_key": sim.api_key, "project_id": sim.project_id, "base_url": sim.base_url}


def api_session(sim: Simulator, key: str | None = None) -> requests.Session:
    """A requests session sending ``Authorization: Bearer <key>`` (default: the valid key)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key or sim.api_key}"
    return session
