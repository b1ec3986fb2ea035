"""Persons: generation (with hidden deleted/merged rows) and mutations."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from . import edge
from .ids import uuid7_like
from .times import to_epoch_us

PERSON_PROPERTY_KEYS: tuple[str, ...] = (
    "email",
    "name",
    "plan",
    "$initial_browser",
    "$initial_os",
    "$geoip_country_code",
    "signup_count",
    "is_beta",
    "company",
)
_PLANS = ("free", "pro", "enterprise", "trial")
_COUNTRIES = ("US", "DE", "FR", "BR", "JP", "IN", "GB")


def _person(
    rng: random.Random, created: datetime, anchor: datetime, hidden: bool
) -> dict[str, Any]:
    pid = uuid7_like(rng, to_epoch_us(created) // 1000)
    anon = uuid7_like(rng, to_epoch_us(created) // 1000)
    identified = rng.random() < 0.6
    props: dict[str, Any] = {
        "$initial_browser": rng.choice(("Chrome", "Firefox", "Safari", "Edge")),
        "$initial_os": rng.choice(("Mac OS X", "Windows", "Linux", "iOS")),
        "$geoip_country_code": rng.choice(_COUNTRIES),
        "plan": rng.choice(_PLANS),
    }
    distinct_ids = [anon]
    if identified:
        email = f"user{rng.randrange(10**6):06d}@example.com"
        props.update(email=email, name=rng.choice(("Zoë Ångström", "Jane Doe", "李雷", "O'Brien")))
        props["signup_count"] = rng.randrange(1, 20)
        distinct_ids = [email, anon]
    if rng.random() < 0.2:
        props["company"] = {"name": "Acme", "seats": rng.randrange(1, 500)}
    if edge.picked(pid):
        props.update(edge.properties(len(distinct_ids)))
    last_seen = None
    if rng.random() > 0.15:
        span = max(1.0, (anchor - created).total_seconds())
        last_seen = (created + timedelta(seconds=rng.uniform(0, span))).replace(
            minute=0, second=0, microsecond=0
        )
        last_seen = max(last_seen, created)
    return {
        "type": "person",
        "id": pid,
        "uuid": pid,
        "name": props.get("email") or distinct_ids[0],
        "distinct_ids": distinct_ids,
        "properties": props,
        "is_identified": identified,
        "created_at": created,
        "last_seen_at": last_seen,
        "matched_recordings": [],
        "value_at_data_point": None,
        "_hidden": hidden,
    }


def person_sort_key(person: dict[str, Any]) -> tuple[datetime, str]:
    """Key for PostHog's persons order (use with ``reverse=True``: created_at DESC, id DESC)."""
    return person["created_at"], person["id"]


def generate_persons(
    rng: random.Random,
    n_visible: int,
    hidden_ratio: float,
    hidden_block: int,
    anchor: datetime,
    days: int,
) -> list[dict[str, Any]]:
    """Generate persons, sorted created_at DESC, id DESC, hidden rows included.

    Args:
        rng: Random source.
        n_visible: Number of persons the list endpoint renders.
        hidden_ratio: Extra hidden rows per visible person, scattered.
        hidden_block: One contiguous run of hidden rows at offsets ``[block, 2 * block)``.
        anchor: Latest possible creation time.
        days: Persons are created within ``1.5 * days`` before the anchor.

    Returns:
        All person rows; hidden ones carry ``_hidden=True``.
    """
    n_scattered = round(n_visible * hidden_ratio)
    use_block = hidden_block > 0 and n_visible + n_scattered > hidden_block
    total = n_visible + n_scattered + (hidden_block if use_block else 0)
    span = max(1, int(days * 1.5 * 86_400))
    rows = []
    for _ in range(total):
        created = anchor - timedelta(seconds=rng.randrange(3600, span + 3600))
        if rng.random() < 0.7:
            created -= timedelta(microseconds=rng.randrange(1, 1_000_000))
        rows.append(_person(rng, created, anchor, hidden=False))
    rows.sort(key=person_sort_key, reverse=True)
    block = set(range(hidden_block, 2 * hidden_block)) if use_block else set()
    others = [i for i in range(total) if i not in block]
    for i in block | set(rng.sample(others, n_scattered)):
        rows[i]["_hidden"] = True
    return rows


def new_person(rng: random.Random, now: datetime) -> dict[str, Any]:
    """A freshly created visible person (created now, never seen)."""
    person = _person(rng, now, now, hidden=False)
    person["last_seen_at"] = None
    return person


def change_properties(rng: random.Random, person: dict[str, Any]) -> None:
    """Change a person's properties in place (last_seen_at is left alone, as PostHog does)."""
    props = dict(person["properties"])
    props["plan"] = rng.choice([p for p in _PLANS if p != props.get("plan")])
    props["updated_n"] = int(props.get("updated_n", 0)) + 1
    person["properties"] = props
