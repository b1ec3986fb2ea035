"""Group types and groups (ee/clickhouse/views/groups.py): generation and the keyset cursor."""

from __future__ import annotations

import base64
import json
import random
from datetime import datetime, timedelta
from typing import Any

from .times import from_epoch_us, to_epoch_us

#: (group_type, name_singular, name_plural, how many groups)
GROUP_TYPES: tuple[tuple[str, str | None, str | None, float], ...] = (
    ("company", "Company", "Companies", 1.0),
    ("project", None, None, 0.4),
    ("instance", "Instance", "Instances", 0.0),
)
#: ``GroupsViewSet.list`` pages are 100 rows, fixed.
GROUPS_PAGE_SIZE = 100


def make_group_types(rng: random.Random, anchor: datetime) -> list[dict[str, Any]]:
    """Group types as ``_group_type_row_to_response`` shapes them."""
    rows = []
    for index, (kind, singular, plural, _share) in enumerate(GROUP_TYPES):
        rows.append(
            {
                "group_type": kind,
                "group_type_index": index,
                "name_singular": singular,
                "name_plural": plural,
                "detail_dashboard": None,
                "default_columns": ["name", "created_at"] if index == 0 else None,
                "created_at": (anchor - timedelta(days=400 - index)).replace(microsecond=0)
                if index != 1
                else None,
            }
        )
    return rows


def _ms(value: datetime) -> datetime:
    """ClickHouse ``DateTime64(3)``: millisecond precision."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def make_groups(rng: random.Random, n: int, anchor: datetime) -> dict[int, list[dict[str, Any]]]:
    """Groups per type index (``GroupSerializer`` fields), a created_at tie across a page edge."""
    out: dict[int, list[dict[str, Any]]] = {}
    for index, (kind, _s, _p, share) in enumerate(GROUP_TYPES):
        count = round(n * share)
        rows = []
        for k in range(count):
            created = _ms(anchor - timedelta(seconds=rng.uniform(3600, 300 * 86_400)))
            key = f"{kind}-{rng.getrandbits(40):010x}" if k % 3 else f"{kind}_{k:05d}"
            props: dict[str, Any] = {"name": f"{kind.title()} {k}", "seats": rng.randrange(1, 900)}
            if k % 5 == 0:
                props["plan"] = rng.choice(("free", "scale", "enterprise"))
            rows.append(
                {
                    "group_type_index": index,
                    "group_key": key,
                    "group_properties": props,
                    "created_at": created,
                }
            )
        sort_groups(rows)
        if len(rows) > GROUPS_PAGE_SIZE + 10:  # ten groups share the created_at at the page edge
            tie = rows[GROUPS_PAGE_SIZE - 5]["created_at"]
            for row in rows[GROUPS_PAGE_SIZE - 5 : GROUPS_PAGE_SIZE + 5]:
                row["created_at"] = tie
            sort_groups(rows)
        out[index] = rows
    return out


def sort_groups(rows: list[dict[str, Any]]) -> None:
    """Order ``created_at DESC, group_key DESC`` (posthog/models/group/util.py ``list_groups``)."""
    rows.sort(key=lambda g: (g["created_at"], g["group_key"]), reverse=True)


def encode_cursor(row: dict[str, Any]) -> str:
    """``_encode_groups_cursor(int(created_at.timestamp() * 1_000_000), group_key)``."""
    created_us = int(row["created_at"].timestamp() * 1_000_000)
    payload = json.dumps({"c": created_us, "k": row["group_key"]}).encode()
    return base64.urlsafe_b64encode(payload).decode()


def decode_cursor(cursor: str) -> tuple[int, str]:
    """``_decode_groups_cursor``.

    (0, "") restarts at page 1 (invalid or old-format cursors); a millisecond value (below
    1e15) is scaled to microseconds.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor))
        if "k" not in data:
            return 0, ""
        raw = int(data.get("c", 0))
        key = str(data.get("k", ""))
        if 0 < raw < 1e15:
            raw *= 1000
        return raw, key
    except Exception:  # noqa: BLE001 - PostHog catches everything here
        return 0, ""


def after_cursor(rows: list[dict[str, Any]], created_us: int, key: str) -> list[dict[str, Any]]:
    """Keyset ``created_at < c OR (created_at = c AND group_key < k)`` (no cursor: all rows)."""
    if created_us == 0 and key == "":
        return rows
    bound = from_epoch_us(created_us)
    return [
        g
        for g in rows
        if g["created_at"] < bound or (g["created_at"] == bound and g["group_key"] < key)
    ]


def created_us(row: dict[str, Any]) -> int:
    """Microseconds of a group's created_at (exact)."""
    return to_epoch_us(row["created_at"])
