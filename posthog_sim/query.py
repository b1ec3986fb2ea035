"""``POST /api/projects/{id}/query/``: run a HogQLQuery against the events table."""

from __future__ import annotations

import hashlib
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

import duckdb

from .events import QUERY_COLUMNS, EventStore
from .hogql_ast import Field, HogQLError, Select
from .hogql_parse import parse_select
from .hogql_print import select_to_hogql, to_hogql
from .hogql_sql import Translator, Typed
from .render import ApiError
from .times import TzRenderer, render_drf, utc_now

MAX_LIMIT = 50_000
DEFAULT_LIMIT = 100
REFRESH_MODES = {
    "blocking",
    "async",
    "lazy_async",
    "force_async",
    "force_blocking",
    "force_cache",
    "async_except_on_cache_miss",
    True,
    False,
    None,
}
OFFSET_NOT_ALLOWED = (
    "OFFSET is not supported on queries made with a personal API key. "
    "For pagination, use keyset pagination on the `timestamp` column, e.g. "
    "`WHERE timestamp > :last_seen_timestamp ORDER BY timestamp LIMIT N`. "
    "For bulk data extraction, use batch exports: https://posthog.com/docs/cdp/batch-exports"
)


def _clickhouse_type(kind: str, tz_name: str) -> str:
    return {
        "datetime": f"DateTime64(6, '{tz_name}')",
        "uuid": "UUID",
        "string": "String",
        "json": "String",
        "uint64": "UInt64",
        "int": "Int64",
        "float": "Float64",
        "bool": "Bool",
        "null": "Nullable(Nothing)",
    }.get(kind, "String")


def parse_body(body: Any) -> tuple[str, dict[str, Any]]:
    """Validate the request body; return the HogQL text and its placeholder values."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), dict):
        raise ApiError.validation("This field is required.", attr="query")
    if body.get("refresh") not in REFRESH_MODES:
        raise ApiError.validation(f"Invalid refresh value: {body.get('refresh')!r}", attr="refresh")
    query = body["query"]
    if query.get("kind") != "HogQLQuery":
        raise ApiError.validation(
            f"Unsupported query kind in the simulator: {query.get('kind')!r} (only HogQLQuery)",
            attr="query",
        )
    text = query.get("query")
    if not isinstance(text, str):
        raise ApiError.validation("HogQLQuery.query must be a string", attr="query")
    values = query.get("values") or {}
    if not isinstance(values, dict):
        raise ApiError.validation("HogQLQuery.values must be an object", attr="query")
    return text, values


def _limit(select: Select) -> tuple[int, bool]:
    if select.offset is not None:
        raise HogQLError(OFFSET_NOT_ALLOWED)
    if select.limit is None:
        return DEFAULT_LIMIT, False
    value = getattr(select.limit, "value", None)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise HogQLError("LIMIT must be a non-negative integer constant")
    return min(value, MAX_LIMIT), True


def _compile(
    select: Select, tz: tzinfo, now: datetime, fetch: int
) -> tuple[str, list[tuple[str, Typed]]]:
    """DuckDB SQL for ``select`` returning at most ``fetch`` rows, plus the typed columns.

    Plain ordered selects sort a narrow ``rowid`` projection first and then read the wide
    columns of the chosen rows only (much faster over large tables).
    """
    if select.table != "events":
        raise HogQLError(f"Unknown table `{select.table}`.")
    tr = Translator(tz, now)
    nodes = [(Field(c), None) for c in QUERY_COLUMNS] if select.star else select.columns
    columns: list[tuple[str, Typed]] = []
    parts = []
    for node, alias in nodes:
        typed = tr.expr(node)
        name = alias or to_hogql(node)
        columns.append((name, typed))
        quoted = name.replace('"', '""')
        parts.append(f'{typed.sql} AS "{quoted}"' if alias else typed.sql)
        if alias:
            tr.aliases[alias] = typed
    where = f" WHERE {tr.condition(select.where)}" if select.where is not None else ""
    head = f"SELECT {', '.join(parts)} FROM events"
    if select.group_by:
        where += " GROUP BY " + ", ".join(tr.expr(g).sql for g in select.group_by)
    order = ""
    if select.order_by:
        order = " ORDER BY " + ", ".join(
            f"{tr.order_key(n)} {'DESC' if desc else 'ASC'} NULLS LAST"
            for n, desc in select.order_by
        )
    narrow_ok = order and not select.group_by and not any(t.aggregate for _, t in columns)
    if narrow_ok and not any(_uses_alias(n, tr.aliases) for n, _ in select.order_by):
        inner = f"SELECT rowid FROM events{where}{order} LIMIT {fetch}"
        return f"{head} WHERE rowid IN ({inner}){order}", columns
    return f"{head}{where}{order} LIMIT {fetch}", columns


def _uses_alias(node: Any, aliases: dict[str, Typed]) -> bool:
    """True when an ORDER BY expression mentions a SELECT alias."""
    if isinstance(node, Field):
        return node.prop is None and node.name in aliases
    children = getattr(node, "args", None) or getattr(node, "items", None) or []
    return any(_uses_alias(c, aliases) for c in children)


def _render_rows(rows: list[tuple[Any, ...]], kinds: list[str], tz: tzinfo) -> list[list[Any]]:
    """Rows as JSON-ready lists; datetimes in the project timezone (``isoformat()`` style)."""
    to_tz = TzRenderer(tz)

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return to_tz(value)
        if isinstance(value, Decimal):
            return float(value)
        return value

    special = [i for i, kind in enumerate(kinds) if kind not in ("string", "json", "uuid")]
    dt_only = [i for i in special if kinds[i] == "datetime"]
    other = [i for i in special if kinds[i] != "datetime"]
    out = []
    for row in rows:
        item = list(row)
        for i in dt_only:
            if item[i] is not None:
                item[i] = to_tz(item[i])
        for i in other:
            item[i] = convert(item[i])
        out.append(item)
    return out


def run_hogql(store: EventStore, body: Any, tz: tzinfo, tz_name: str) -> dict[str, Any]:
    """Execute a HogQLQuery request body and build the HogQLQueryResponse.

    Raises:
        ApiError: 400 for malformed bodies and for queries outside the supported subset.
    """
    text, values = parse_body(body)
    now = utc_now()
    try:
        select = parse_select(text, values)
        limit, explicit = _limit(select)
        sql, columns = _compile(select, tz, now, limit if explicit else limit + 1)
        rows = store.con.execute(sql).fetchall()
    except HogQLError as exc:
        raise ApiError.validation(str(exc)) from exc
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ApiError.validation(f"Query error: {first}") from exc
    has_more = None
    if not explicit:
        has_more = len(rows) > limit
        rows = rows[:limit]
    results = _render_rows(rows, [typed.type for _, typed in columns], tz)
    hogql = select_to_hogql(select, limit)
    return {
        "results": results,
        "columns": [name for name, _ in columns],
        "types": [[name, _clickhouse_type(t.type, tz_name)] for name, t in columns],
        "hasMore": has_more,
        "limit": None if explicit else limit,
        "offset": None if explicit else 0,
        "hogql": hogql,
        "clickhouse": None,
        "error": None,
        "explain": None,
        "metadata": None,
        "modifiers": {},
        "query_status": None,
        "timings": [],
        "is_cached": False,
        "cache_key": "cache_" + hashlib.sha256(hogql.encode()).hexdigest()[:32],
        "last_refresh": render_drf(now),
        "next_allowed_client_refresh": render_drf(now),
        "cache_target_age": None,
        "calculation_trigger": None,
    }
