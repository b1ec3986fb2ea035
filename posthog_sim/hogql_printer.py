"""PostHog's HogQL AST (JSON from ``hogql_parser``) printed as ClickHouse SQL, PostHog's way.

Follows posthog/hogql/printer/clickhouse.py (older: posthog/hogql/printer.py) for the subset the
simulator supports: one table (events, persons, person_distinct_ids, sessions), fields,
constants, placeholders, calls, comparisons (tuples too), and/or/not, arithmetic, WHERE,
GROUP BY, HAVING, ORDER BY, LIMIT. Everything else is refused with PostHog-like messages.

PostHog behaviours printed here:

- string constants and placeholder values are bound parameters (``add_value``), never inlined;
  numbers, booleans and NULL are printed inline (printer ``visit_constant``);
- ``toDateTime(x[, tz])`` -> ``parseDateTime64BestEffortOrNull(x, 6, tz)`` (tz defaults to the
  project's), or ``toDateTime`` for a datetime/date/int argument; ``toUUID(x)`` ->
  ``accurateCastOrNull(x, 'UUID')`` (posthog/hogql/functions/clickhouse/conversions.py);
- datetime fields print as ``toTimeZone(<field>, <project tz>)`` everywhere, comparisons
  included (``PropertySwapper.visit_field`` in posthog/hogql/transforms/property_types.py, run
  by ``prepare_ast_for_printing`` in posthog/hogql/printer.py with
  ``setTimeZones=modifiers.convertToProjectTimezone is not False``; PostHog's printer tests
  expect e.g. ``greater(toTimeZone(events.timestamp, %(hogql_val_2)s), %(hogql_val_3)s)``).
  ClickHouse then prunes only by the monthly partitions' min/max index, not by the
  ``toDate(timestamp)`` sort key (measured on chDB 26.9). With the query modifier
  ``convertToProjectTimezone: false`` fields print bare (posthog/hogql/test/test_modifiers.py
  ``test_no_convert_timezone``: no ``toTimeZone`` at all) and the sort key prunes by day;
- ``person.properties`` (and ``person.properties.<key>``, ``person.id``) on events print as the
  events row's own ``person_properties`` / ``person_id`` columns: persons-on-events mode, no join
  (posthog/hogql/database/schema/events.py ``EventsPersonSubTable``, see ``hogql_schema``);
- no ``ifNull`` around comparisons that involve ``events.timestamp`` (``visit_compare_operation``);
- every query is filtered on ``team_id`` (PostHog adds ``equals(<table>.team_id, <team>)``);
- a LIMIT above the row cap is silently lowered to it (``visit_select_query``); without LIMIT,
  ``DEFAULT_RETURNED_ROWS`` (100) + 1 rows are fetched for ``hasMore``
  (posthog/hogql/constants.py, hogql_query_runner.py ``HogQLHasMorePaginator``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .hogql_functions import ARITHMETIC, CASTS, COMPARE, FUNCTIONS
from .hogql_schema import STAR, SUBTABLES, TABLES, resolve_field


class HogQLError(Exception):
    """A query PostHog would refuse with a 400 (ExposedHogQLError / QueryError)."""


OFFSET_NOT_ALLOWED = (
    "OFFSET is not supported on queries made with a personal API key. "
    "For pagination, use keyset pagination on the `timestamp` column, e.g. "
    "`WHERE timestamp > :last_seen_timestamp ORDER BY timestamp LIMIT N`. "
    "For bulk data extraction, use batch exports: https://posthog.com/docs/cdp/batch-exports"
)
DEFAULT_RETURNED_ROWS = 100

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote(name: str) -> str:
    """A ClickHouse identifier, back-quoted when it is not a plain word."""
    if _PLAIN.match(name):
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


@dataclass
class Column:
    """One selected column: its response name and whether it is a datetime."""

    name: str
    kind: str


@dataclass
class Printed:
    """The ClickHouse SQL of a query, its bound parameters and its columns."""

    sql: str
    params: dict[str, Any]
    columns: list[Column]
    limit: int
    explicit_limit: bool
    table: str


@dataclass
class _Ctx:
    database: str
    team_id: int
    tz: str
    values: dict[str, Any]
    convert_tz: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    table: str = "events"
    alias: str = "events"
    select_aliases: set[str] = field(default_factory=set)

    def add_value(self, value: Any) -> str:
        """Add ``value`` as PostHog's ``%(hogql_val_N)s`` and return the text that replaces it.

        PostHog's SQL carries ``%(hogql_val_N)s`` markers that its ClickHouse client fills in
        before sending, as escaped literals (clickhouse-driver ``util/escape.py``
        ``escape_param``), so ClickHouse sees constants (a bound ``{x:String}`` parameter inside
        ``toTimeZone`` would even defeat partition pruning). The value is also kept in ``params``
        (the request log shows them); it never enters the HogQL text.
        """
        name = f"hogql_val_{len(self.params)}"
        self.params[name] = value
        return sql_literal(value)


_ESCAPES = {"\\": "\\\\", "'": "\\'", "\b": "\\b", "\f": "\\f", "\r": "\\r",
            "\n": "\\n", "\t": "\\t", "\0": "\\0", "\a": "\\a", "\v": "\\v"}  # fmt: skip


def sql_literal(value: Any) -> str:
    """``value`` as clickhouse-driver's ``escape_param`` writes it into the SQL text."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + "".join(_ESCAPES.get(ch, ch) for ch in str(value)) + "'"


class Printer:
    """Prints one SELECT for one simulator database."""

    def __init__(self, database: str, team_id: int, tz: str, row_cap: int) -> None:
        """Target ``database``; ``tz`` is the project time zone; ``row_cap`` the LIMIT cap."""
        self.database, self.team_id, self.tz, self.row_cap = database, team_id, tz, row_cap

    def print_select(
        self, tree: dict[str, Any], values: dict[str, Any], *, convert_tz: bool = True
    ) -> Printed:
        """ClickHouse SQL for a parsed SELECT (``parse_select_json`` output).

        ``convert_tz`` is the ``convertToProjectTimezone`` modifier (off: no ``toTimeZone``).

        Raises:
            HogQLError: Outside the supported subset, or what PostHog refuses.
        """
        node = tree.get("node")
        if node == "SelectSetQuery":
            raise HogQLError("Unsupported HogQL syntax in the simulator: UNION")
        if node != "SelectQuery":
            raise HogQLError(f"Unsupported HogQL syntax in the simulator: {node}")
        for key in (
            "ctes",
            "distinct",
            "prewhere",
            "qualify",
            "window_exprs",
            "array_join_op",
            "limit_by",
            "limit_with_ties",
            "settings",
        ):
            if tree.get(key):
                raise HogQLError(f"Unsupported HogQL syntax in the simulator: {key.upper()}")
        if tree.get("offset") is not None:
            # posthog/hogql/user_query_validator.py
            raise HogQLError(OFFSET_NOT_ALLOWED)
        ctx = _Ctx(self.database, self.team_id, self.tz, values, convert_tz)
        self._table(tree.get("select_from"), ctx)
        exprs = self._expand_star(tree.get("select") or [], ctx)
        ctx.select_aliases = {e["alias"] for e in exprs if e.get("node") == "Alias"}
        columns, parts = [], []
        for expr in exprs:
            if expr.get("node") == "Alias":
                sql = f"{self._expr(expr['expr'], ctx)} AS {quote(expr['alias'])}"
                columns.append(Column(expr["alias"], self._kind(expr["expr"], ctx)))
            else:
                sql = self._expr(expr, ctx)
                columns.append(Column(_column_name(expr), self._kind(expr, ctx)))
            parts.append(sql)
        team = f"equals({quote(ctx.alias)}.team_id, {self.team_id})"
        where = team
        if tree.get("where") is not None:
            where = f"and({team}, {self._expr(tree['where'], ctx)})"
        sql = (
            f"SELECT {', '.join(parts)} FROM {self.database}.{quote(ctx.table)} AS "
            f"{quote(ctx.alias)} WHERE {where}"
        )
        if tree.get("group_by"):
            sql += " GROUP BY " + ", ".join(self._expr(g, ctx) for g in tree["group_by"])
        if tree.get("having") is not None:
            sql += " HAVING " + self._expr(tree["having"], ctx)
        if tree.get("order_by"):
            sql += " ORDER BY " + ", ".join(
                f"{self._expr(o['expr'], ctx)} {o.get('order') or 'ASC'}" for o in tree["order_by"]
            )
        limit, explicit = self._limit(tree.get("limit"))
        sql += f" LIMIT {limit if explicit else limit + 1}"
        return Printed(sql, ctx.params, columns, limit, explicit, ctx.table)

    # ------------------------------------------------------------------ clauses
    def _table(self, join: dict[str, Any] | None, ctx: _Ctx) -> None:
        if join is None:
            raise HogQLError("Unsupported HogQL syntax in the simulator: SELECT without FROM")
        if join.get("next_join") is not None:
            raise HogQLError("Unsupported HogQL syntax in the simulator: JOIN")
        table = join.get("table") or {}
        if table.get("node") != "Field":
            raise HogQLError("Unsupported HogQL syntax in the simulator: subqueries")
        name = ".".join(str(c) for c in table.get("chain", []))
        if name not in TABLES:
            # posthog/hogql/database/database.py get_table
            raise HogQLError(f'Unknown table "{name}".')
        ctx.table, ctx.alias = name, join.get("alias") or name

    def _expand_star(self, exprs: list[dict[str, Any]], ctx: _Ctx) -> list[dict[str, Any]]:
        out = []
        for expr in exprs:
            if expr.get("node") == "Field" and expr.get("chain") in (["*"], [ctx.alias, "*"]):
                out += [{"node": "Field", "chain": [name]} for name in STAR[ctx.table]]
            else:
                out.append(expr)
        return out

    def _limit(self, node: dict[str, Any] | None) -> tuple[int, bool]:
        if node is None:
            return DEFAULT_RETURNED_ROWS, False
        value = node.get("value") if node.get("node") == "Constant" else None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise HogQLError("LIMIT must be a non-negative integer constant")
        return min(value, self.row_cap), True

    # ------------------------------------------------------------------ expressions
    def _expr(self, node: dict[str, Any], ctx: _Ctx) -> str:
        kind = node.get("node")
        method = getattr(self, f"_visit_{kind}", None)
        if method is None:
            raise HogQLError(f"Unsupported HogQL syntax in the simulator: {kind}")
        return str(method(node, ctx))

    def _visit_Constant(self, node: dict[str, Any], ctx: _Ctx) -> str:
        return self._constant(node.get("value"), ctx)

    def _constant(self, value: Any, ctx: _Ctx) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, str):
            return ctx.add_value(value)
        if isinstance(value, list):
            return "[" + ", ".join(self._constant(v, ctx) for v in value) + "]"
        raise HogQLError(f"Unsupported constant type: {type(value).__name__}")

    def _visit_Placeholder(self, node: dict[str, Any], ctx: _Ctx) -> str:
        expr = node.get("expr") or {}
        chain = expr.get("chain") if expr.get("node") == "Field" else None
        name = ".".join(str(c) for c in chain) if chain else None
        if name is None or name not in ctx.values:
            # posthog/hogql/placeholders.py ReplacePlaceholders
            available = ", ".join(sorted(ctx.values))
            raise HogQLError(
                f"Placeholder {{{name}}} is not available in this context. "
                f"You can use the following: {available}"
            )
        return self._constant(ctx.values[name], ctx)

    def _visit_Field(self, node: dict[str, Any], ctx: _Ctx) -> str:
        chain = [str(c) for c in node.get("chain", [])]
        if chain and chain[0] == ctx.alias and len(chain) > 1:
            chain = chain[1:]
        if len(chain) == 1 and chain[0] in ctx.select_aliases:
            return quote(chain[0])
        resolved = resolve_field(chain, ctx.table)
        if resolved is None:
            raise HogQLError(f"Unable to resolve field: {'.'.join(chain) or '?'}")
        name, kind, rest = resolved
        column = f"{quote(ctx.alias)}.{quote(name)}"
        if rest:
            if kind != "json":
                raise HogQLError(f"Can not access property {rest[0]!r} on field {chain[0]!r}")
            keys = ", ".join(ctx.add_value(k) for k in rest)
            # PostHog's property access (printer visit_property_type)
            return (
                f"replaceRegexpAll(nullIf(nullIf(JSONExtractRaw({column}, {keys}), ''), "
                f"'null'), '^\"|\"$', '')"
            )
        if kind == "datetime" and ctx.convert_tz:
            return f"toTimeZone({column}, {ctx.add_value(self.tz)})"
        return column

    def _kind(self, node: dict[str, Any], ctx: _Ctx) -> str:
        if node.get("node") == "Field":
            chain = [str(c) for c in node.get("chain", [])]
            if chain and chain[0] == ctx.alias and len(chain) > 1:
                chain = chain[1:]
            if chain and chain[0] in SUBTABLES.get(ctx.table, {}) and len(chain) == 2:
                sub = SUBTABLES[ctx.table][chain[0]].get(chain[1])
                return sub[1] if sub else "other"
            if len(chain) == 1:
                return TABLES[ctx.table].get(chain[0], "other")
        return "other"

    def _visit_Alias(self, node: dict[str, Any], ctx: _Ctx) -> str:
        return self._expr(node["expr"], ctx)

    def _visit_Tuple(self, node: dict[str, Any], ctx: _Ctx) -> str:
        return "tuple(" + ", ".join(self._expr(e, ctx) for e in node.get("exprs", [])) + ")"

    def _visit_Array(self, node: dict[str, Any], ctx: _Ctx) -> str:
        return "[" + ", ".join(self._expr(e, ctx) for e in node.get("exprs", [])) + "]"

    def _visit_And(self, node: dict[str, Any], ctx: _Ctx) -> str:
        return "and(" + ", ".join(self._expr(e, ctx) for e in node.get("exprs", [])) + ")"

    def _visit_Or(self, node: dict[str, Any], ctx: _Ctx) -> str:
        return "or(" + ", ".join(self._expr(e, ctx) for e in node.get("exprs", [])) + ")"

    def _visit_Not(self, node: dict[str, Any], ctx: _Ctx) -> str:
        return f"not({self._expr(node['expr'], ctx)})"

    def _visit_ArithmeticOperation(self, node: dict[str, Any], ctx: _Ctx) -> str:
        op = ARITHMETIC.get(node.get("op", ""))
        if op is None:
            raise HogQLError(f"Unsupported arithmetic operation: {node.get('op')}")
        return f"{op}({self._expr(node['left'], ctx)}, {self._expr(node['right'], ctx)})"

    def _visit_BetweenExpr(self, node: dict[str, Any], ctx: _Ctx) -> str:
        neg = "NOT " if node.get("negated") else ""
        return (
            f"({self._expr(node['expr'], ctx)} {neg}BETWEEN {self._expr(node['low'], ctx)} "
            f"AND {self._expr(node['high'], ctx)})"
        )

    def _visit_CompareOperation(self, node: dict[str, Any], ctx: _Ctx) -> str:
        op = node.get("op", "")
        left, right = node["left"], node["right"]
        if op in ("==", "!=") and right.get("node") == "Constant" and right.get("value") is None:
            fn = "isNull" if op == "==" else "isNotNull"
            return f"{fn}({self._expr(left, ctx)})"
        name = COMPARE.get(op)
        if name is None:
            raise HogQLError(f"Unsupported comparison operator in the simulator: {op}")
        # PostHog omits ifNull(..., 0) when events.timestamp takes part, to keep the index
        # usable; in a WHERE clause both forms select the same rows, so none is printed here.
        return f"{name}({self._expr(left, ctx)}, {self._expr(right, ctx)})"

    def _visit_Call(self, node: dict[str, Any], ctx: _Ctx) -> str:
        name = str(node.get("name"))
        args = node.get("args") or []
        if node.get("params"):
            raise HogQLError(f"Unsupported parametric function call '{name}(...)'")
        if name == "toDateTime":
            return self._to_datetime(args, ctx)
        if name in CASTS:
            if len(args) != 1:
                raise HogQLError(f"Function '{name}' expects 1 argument, found {len(args)}")
            return f"accurateCastOrNull({self._expr(args[0], ctx)}, {ctx.add_value(CASTS[name])})"
        meta = FUNCTIONS.get(name)
        if meta is None:
            # posthog/hogql/printer: unknown functions
            raise HogQLError(f"Unsupported function call '{name}(...)'")
        ch_name, lo, hi = meta
        if not lo <= len(args) <= hi:
            expected = str(lo) if lo == hi else f"{lo}-{hi}"
            raise HogQLError(f"Function '{name}' expects {expected} arguments, found {len(args)}")
        if name == "count" and args and args[0].get("chain") == ["*"]:
            return "count()"
        distinct = "DISTINCT " if node.get("distinct") else ""
        printed = ", ".join(self._expr(a, ctx) for a in args)
        return f"{ch_name}({distinct}{printed})"

    def _to_datetime(self, args: list[dict[str, Any]], ctx: _Ctx) -> str:
        if not 1 <= len(args) <= 2:
            raise HogQLError(f"Function 'toDateTime' expects 1-2 arguments, found {len(args)}")
        first = self._expr(args[0], ctx)
        tz = self._expr(args[1], ctx) if len(args) == 2 else ctx.add_value(self.tz)
        if self._kind(args[0], ctx) == "datetime" or _is_number(args[0]):
            return f"toDateTime({first}, {tz})"
        # "These two CH functions require a precision argument before timezone"
        return f"parseDateTime64BestEffortOrNull({first}, 6, {tz})"


def _is_number(node: dict[str, Any]) -> bool:
    value = node.get("value") if node.get("node") == "Constant" else None
    return isinstance(value, int | float) and not isinstance(value, bool)


def _column_name(node: dict[str, Any]) -> str:
    """PostHog's name of an unaliased column: a field's last name, else the HogQL text."""
    from .hogql_text import to_hogql

    if node.get("node") == "Field":
        return str(node.get("chain", ["?"])[-1])
    return to_hogql(node)
