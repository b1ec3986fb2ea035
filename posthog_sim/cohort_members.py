"""Cohort membership: which persons (ghosts included) belong to each cohort."""

from __future__ import annotations

import random
from typing import Any


def make_memberships(
    rng: random.Random, cohorts: list[dict[str, Any]], persons: list[dict[str, Any]]
) -> dict[int, list[str]]:
    """Person ids per cohort id, static.

    and dynamic alike (ClickHouse ``cohortpeople`` / ``person_static_cohort``). Hidden persons
    stay members: PostHog drops them only after the page is cut (posthog/api/cohort.py
    ``CohortViewSet.persons``).
    """
    out: dict[int, list[str]] = {}
    for cohort in cohorts:
        share = rng.choice((0.0, 0.05, 0.3, 0.6))
        out[cohort["id"]] = [p["id"] for p in persons if rng.random() < share]
    return out
