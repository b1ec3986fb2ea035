"""Helpers for the further streams' tests: keys and whole-row comparison with ground truth."""

from __future__ import annotations

import json
from typing import Any

from posthog_sim.truth import KEYS
from tap_posthog.timeutil import parse_datetime

FURTHER_STREAMS = [
    "insights",
    "dashboards",
    "actions",
    "experiments",
    "surveys",
    "group_types",
    "groups",
    "session_recordings",
    "cohort_people",
]


def key_of(stream: str, record: dict[str, Any]) -> Any:
    """The record's key as ``Truth.ids`` gives it (a tuple for composite keys)."""
    fields = KEYS.get(stream, ("id",))
    return record[fields[0]] if len(fields) == 1 else tuple(record[f] for f in fields)


def _normal(value: Any) -> Any:
    """Datetime strings as instants; everything else as JSON would compare it."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return parse_datetime(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def assert_rows_equal(stream: str, emitted: list[dict], truth: list[dict], project_id: int) -> None:
    """Every emitted row equals its ground-truth row (plus ``project_id``), once each."""
    by_key = {key_of(stream, r): r for r in truth}
    keys = [key_of(stream, r) for r in emitted]
    assert len(keys) == len(set(keys)), f"{stream}: duplicate keys"
    assert set(keys) == set(by_key), f"{stream}: ids differ"
    for record in emitted:
        assert record["project_id"] == project_id
        want = {**by_key[key_of(stream, record)], "project_id": project_id}
        got = json.loads(json.dumps(record))
        assert _normal(got) == _normal(want), (stream, key_of(stream, record))
