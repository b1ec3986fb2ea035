"""Whole-row comparison of a DuckDB table with the simulator's ground truth.

``expected_rows(sim, stream)`` maps ground-truth records to the row the tap and target must
produce: the tap's documented additions (``project_id``, ``type`` of property definitions,
project secrets removed) applied, every column of the stream's JSON schema present (missing
keys are NULL), values normalised for comparison: JSON columns as parsed JSON, date-time
columns as naive UTC datetimes to the microsecond, strings, numbers and booleans as they are.
``assert_table_matches(db, table, sim, stream)`` reads every column of the table the same way
and compares whole rows keyed by the primary key.

A new stream plugs in with its schema file in ``tap_posthog/schemas`` and, if the tap changes
records on the way, one entry in :data:`TAP_CHANGES`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from posthog_sim import Simulator

Row = dict[str, Any]
_SECRET_KEYS = ("secret_api_token", "secret_api_token_backup")


def key_fields(stream: str) -> tuple[str, ...]:
    """The tap's primary key of ``stream`` (rows are compared keyed by it)."""
    from tap_posthog.tap import STREAM_TYPES

    keys = {cls.name: tuple(cls.primary_keys) for cls in STREAM_TYPES}
    return keys[stream]


def row_key(row: Row, fields: tuple[str, ...]) -> str:
    """A row's key as text: its primary-key values, joined."""
    return "|".join(str(row[field.lower()]) for field in fields)


def schema(stream: str) -> dict[str, Any]:
    """The tap's JSON schema of ``stream``."""
    text = resources.files("tap_posthog.schemas").joinpath(f"{stream}.json").read_text()
    return json.loads(text)


def _types(prop: dict[str, Any]) -> set[str]:
    kind = prop.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def is_json_column(prop: dict[str, Any]) -> bool:
    """Objects and arrays land as DuckDB JSON columns."""
    return bool(_types(prop) & {"object", "array"})


def utc_us(value: Any) -> datetime | None:
    """A timestamp (string or datetime) as a naive UTC datetime, microseconds kept."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _drop_phs(value: Any) -> Any:
    if isinstance(value, str):
        return None if value.startswith("phs_") else value
    if isinstance(value, dict):
        return {k: _drop_phs(v) for k, v in value.items() if k not in _SECRET_KEYS}
    if isinstance(value, list):
        return [_drop_phs(v) for v in value]
    return value


def _projects(record: Row, _project_id: int) -> Row:
    record = _drop_phs(record)
    record["project_id"] = record["id"]
    return record


def _with_type(kind: str) -> Callable[[Row, int], Row]:
    def change(record: Row, project_id: int) -> Row:
        return {**record, "type": kind, "project_id": project_id}

    return change


#: What the tap does to a ground-truth record of a stream before emitting it (default: adds
#: ``project_id``). Documented in the README and in ``tap_posthog/streams.py``.
TAP_CHANGES: dict[str, Callable[[Row, int], Row]] = {
    "projects": _projects,
    "event_property_definitions": _with_type("event"),
    "person_property_definitions": _with_type("person"),
    "session_property_definitions": _with_type("session"),
}


def normalise(prop: dict[str, Any], value: Any) -> Any:
    """A value of a column as compared: JSON parsed, timestamps as UTC µs, floats as floats."""
    if value is None:
        return None
    if is_json_column(prop):
        return json.loads(value) if isinstance(value, str) and _types(prop) != {"string"} else value
    if prop.get("format") == "date-time":
        return utc_us(value)
    if "number" in _types(prop) and not isinstance(value, bool):
        return float(value)
    return value


def to_row(stream_schema: dict[str, Any], record: Row) -> Row:
    """The expected row of one record: every schema column, normalised."""
    props = stream_schema["properties"]
    return {name.lower(): normalise(prop, record.get(name)) for name, prop in props.items()}


def expected_rows(
    sim: Simulator, stream: str, records: Iterable[Row] | None = None
) -> dict[str, Row]:
    """Expected rows of ``stream`` keyed by :func:`row_key` (default: the current ground truth)."""
    stream_schema = schema(stream)
    fields = key_fields(stream)
    change = TAP_CHANGES.get(stream, lambda r, pid: {**r, "project_id": pid})
    source = sim.truth.records(stream) if records is None else records
    rows = {}
    for record in source:
        row = to_row(stream_schema, change(dict(record), sim.project_id))
        rows[row_key(row, fields)] = row
    return rows


def table_rows(
    db: Path | str, table: str, stream: str, extra: Iterable[str] = ()
) -> dict[str, Row]:
    """Every row of ``table`` keyed by :func:`row_key`, columns normalised like :func:`to_row`.

    Args:
        db: DuckDB file.
        table: ``schema.table``.
        stream: Stream whose JSON schema types the columns.
        extra: Columns beyond the schema that the table may have; they are returned as read.
    """
    props = {name.lower(): prop for name, prop in schema(stream)["properties"].items()}
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        cur = con.execute(f"SELECT * FROM {table}")
        names = [d[0].lower() for d in cur.description]
        data = cur.fetchall()
    unknown = set(names) - set(props) - set(extra)
    assert not unknown, f"{table} has columns outside the {stream} schema: {sorted(unknown)}"
    missing = set(props) - set(names)
    assert not missing, f"{table} lacks columns of the {stream} schema: {sorted(missing)}"
    fields = key_fields(stream)
    rows = {}
    for values in data:
        row = {
            name: normalise(props[name], value) if name in props else value
            for name, value in zip(names, values, strict=True)
        }
        key = row_key(row, fields)
        assert key not in rows, f"{table}: key {key} appears twice"
        rows[key] = row
    return rows


def canonical(value: Any) -> str:
    """Text that tells ``0``, ``0.0``, ``False`` and ``""`` apart, at any depth."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)


def diff_rows(got: dict[str, Row], want: dict[str, Row], limit: int = 5) -> list[str]:
    """Human-readable differences between two keyed row sets (empty when equal)."""
    problems = []
    if missing := sorted(set(want) - set(got)):
        problems.append(f"{len(missing)} rows missing, e.g. {missing[:limit]}")
    if unexpected := sorted(set(got) - set(want)):
        problems.append(f"{len(unexpected)} unexpected rows, e.g. {unexpected[:limit]}")
    for key in sorted(set(got) & set(want)):
        for column, value in want[key].items():
            if canonical(got[key].get(column)) != canonical(value):
                problems.append(f"id {key} column {column}: {got[key].get(column)!r} != {value!r}")
                if len(problems) >= limit * 4:
                    return problems
    return problems


def assert_table_matches(
    db: Path | str,
    table: str,
    sim: Simulator,
    stream: str,
    *,
    extra: Iterable[str] = (),
    records: Iterable[Row] | None = None,
) -> dict[str, Row]:
    """Assert ``table`` holds exactly the expected rows of ``stream``, every column equal.

    Returns:
        The table's rows (keyed by id), for further checks on ``extra`` columns.
    """
    got = table_rows(db, table, stream, extra)
    want = expected_rows(sim, stream, records)
    assert want, f"the simulator has no {stream} to compare"
    problems = diff_rows(got, want)
    assert not problems, f"{table} differs from the {stream} ground truth:\n" + "\n".join(problems)
    return got
