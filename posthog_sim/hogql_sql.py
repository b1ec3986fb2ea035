"""Translate the HogQL AST to DuckDB SQL with ClickHouse semantics.

ClickHouse specifics reproduced here:

* UUIDs compare and sort by their second half first (then the first half); every comparison
  or ORDER BY on a UUID-typed expression uses that key (precomputed ``_uuid_key`` for ``uuid``).
* ``toDateTime(x[, tz])`` parses best-effort ISO-8601 to microseconds (naive text in ``tz`` or
  the project timezone), giving NULL when unparseable; strings compared with datetimes are
  parsed in the project timezone.
* ``min``/``max`` of an empty set give the type's default (epoch for DateTime).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .hogql_ast import BoolOp, Call, Compare, Const, Field, HogQLError, IsNull, Not, TupleExpr
from .ids import clickhouse_uuid_key, parse_uuid
from .times import EPOCH, naive_utc, parse_datetime

_MISSING = object()
COLUMN_TYPES: dict[str, str] = {
    "uuid": "uuid",
    "event": "string",
    "distinct_id": "string",
    "properties": "json",
    "timestamp": "datetime",
    "created_at": "datetime",
    "elements_chain": "string",
    "person_id": "uuid",
    "$session_id": "string",
}
_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass
class Typed:
    """A translated expression: SQL text, HogQL type, constant value and source column."""

    sql: str
    type: str
    const: Any = _MISSING
    column: str | None = None
    aggregate: bool = False

    @property
    def is_const(self) -> bool:
        """True for literals and folded constant calls."""
        return self.const is not _MISSING


def sql_string(text: str) -> str:
    """Quote a string as a DuckDB literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_timestamp(value: datetime | None) -> str:
    """DuckDB TIMESTAMP literal (UTC) or a typed NULL."""
    if value is None:
        return "CAST(NULL AS TIMESTAMP)"
    return f"TIMESTAMP '{naive_utc(value).isoformat(sep=' ')}'"


def const(value: Any) -> Typed:
    """Typed literal for a Python value."""
    if value is None:
        return Typed("NULL", "null", None)
    if isinstance(value, bool):
        return Typed("TRUE" if value else "FALSE", "bool", value)
    if isinstance(value, int):
        return Typed(str(value), "int", value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise HogQLError("Non-finite numbers are not supported")
        return Typed(repr(value), "float", value)
    if isinstance(value, datetime):
        return Typed(sql_timestamp(value), "datetime", value)
    return Typed(sql_string(str(value)), "string", str(value))


class Translator:
    """Translates expressions of one query; ``aliases`` maps SELECT aliases to their Typed."""

    def __init__(self, tz: tzinfo, now: datetime) -> None:
        """Remember the project timezone and the query's ``now()``."""
        self.tz = tz
        self.now = now
        self.aliases: dict[str, Typed] = {}

    def expr(self, node: Any) -> Typed:
        """Translate a value expression."""
        if isinstance(node, Const):
            return const(node.value)
        if isinstance(node, Field):
            return self._field(node)
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, TupleExpr):
            raise HogQLError("Tuples are only supported on both sides of a comparison")
        return Typed(self.condition(node), "bool")

    def condition(self, node: Any) -> str:
        """Translate a boolean expression."""
        if isinstance(node, BoolOp):
            joiner = " AND " if node.op == "and" else " OR "
            return "(" + joiner.join(self.condition(i) for i in node.items) + ")"
        if isinstance(node, Not):
            return f"(NOT {self.condition(node.expr)})"
        if isinstance(node, IsNull):
            return f"({self.expr(node.expr).sql} IS {'NOT ' if node.negated else ''}NULL)"
        if isinstance(node, Compare):
            if isinstance(node.left, TupleExpr) or isinstance(node.right, TupleExpr):
                return self._tuple_compare(node)
            return self.compare(node.op, self.expr(node.left), self.expr(node.right))
        return self.expr(node).sql

    def order_key(self, node: Any) -> str:
        """SQL to sort by; UUIDs sort by the ClickHouse key."""
        typed = self.expr(node)
        return self._uuid_key(typed) if typed.type == "uuid" else typed.sql

    def compare(self, op: str, left: Typed, right: Typed) -> str:
        """Compare two typed values with ClickHouse coercions."""
        types = (left.type, right.type)
        if "uuid" in types:
            left, right = self._as_uuid(left), self._as_uuid(right)
            return f"({self._uuid_key(left)} {op} {self._uuid_key(right)})"
        if "datetime" in types:
            left, right = self._as_datetime(left), self._as_datetime(right)
        return f"({left.sql} {op} {right.sql})"

    def _tuple_compare(self, node: Compare) -> str:
        if not (isinstance(node.left, TupleExpr) and isinstance(node.right, TupleExpr)):
            raise HogQLError("A tuple can only be compared with another tuple")
        lefts = [self.expr(i) for i in node.left.items]
        rights = [self.expr(i) for i in node.right.items]
        if len(lefts) != len(rights):
            raise HogQLError("Tuples of different sizes cannot be compared")
        if node.op in ("=", "!="):
            equal = " AND ".join(
                self.compare("=", a, b) for a, b in zip(lefts, rights, strict=True)
            )
            return f"({equal})" if node.op == "=" else f"(NOT ({equal}))"
        strict = node.op[0]

        def chain(i: int) -> str:
            a, b = lefts[i], rights[i]
            if i == len(lefts) - 1:
                return self.compare(node.op, a, b)
            return (
                f"({self.compare(strict, a, b)} OR ({self.compare('=', a, b)} AND {chain(i + 1)}))"
            )

        return chain(0)

    def _field(self, node: Field) -> Typed:
        if node.prop is not None and node.name == "events" and node.prop in COLUMN_TYPES:
            node = Field(node.prop)
        if node.prop is not None:
            if node.name != "properties":
                raise HogQLError(f"Unable to resolve field: {node.name}.{node.prop}")
            path = sql_string('$."' + node.prop.replace('"', '\\"') + '"')
            return Typed(f"json_extract_string(properties, {path})", "string")
        if node.name in COLUMN_TYPES:
            return Typed(f'"{node.name}"', COLUMN_TYPES[node.name], column=node.name)
        if node.name in self.aliases:
            alias = self.aliases[node.name]
            return Typed(f'"{node.name}"', alias.type, alias.const)
        raise HogQLError(f"Unable to resolve field: {node.name}")

    def _call(self, node: Call) -> Typed:
        name, args = node.name, node.args
        lowered = name.lower()
        if lowered == "count":
            inner = "*" if node.star or not args else self.expr(args[0]).sql
            return Typed(f"count({inner})", "uint64", aggregate=True)
        if node.star:
            raise HogQLError(f"Unsupported function call '{name}(*)'")
        if lowered in ("min", "max"):
            return self._min_max(lowered, args)
        if name in ("toDateTime", "toDateTime64", "parseDateTimeBestEffort"):
            return self._to_datetime(name, args)
        if name == "toUUID":
            self._arity(name, args, 1, 1)
            return self._as_uuid(self.expr(args[0]), strict=False)
        if name == "now":
            self._arity(name, args, 0, 0)
            return const(self.now)
        raise HogQLError(f"Unsupported function call '{name}(...)'")

    @staticmethod
    def _arity(name: str, args: list[Any], low: int, high: int) -> None:
        if not low <= len(args) <= high:
            raise HogQLError(f"Function '{name}' expects {low}-{high} arguments, got {len(args)}")

    def _min_max(self, fn: str, args: list[Any]) -> Typed:
        self._arity(fn, args, 1, 1)
        inner = self.expr(args[0])
        if inner.type == "uuid":
            picker = "arg_min" if fn == "min" else "arg_max"
            sql = f"coalesce({picker}({inner.sql}, {self._uuid_key(inner)}), '{_ZERO_UUID}')"
            return Typed(sql, "uuid", aggregate=True)
        default = {"datetime": sql_timestamp(EPOCH), "string": "''", "json": "''"}.get(
            inner.type, "0"
        )
        return Typed(f"coalesce({fn}({inner.sql}), {default})", inner.type, aggregate=True)

    def _to_datetime(self, name: str, args: list[Any]) -> Typed:
        self._arity(name, args, 1, 3 if name == "toDateTime64" else 2)
        value = self.expr(args[0])
        extra = args[2:] if name == "toDateTime64" else args[1:]
        tz_arg = extra[0] if extra else None
        zone = self.tz
        if tz_arg is not None:
            tz_name = self.expr(tz_arg).const
            if not isinstance(tz_name, str):
                raise HogQLError(f"{name}(): the timezone must be a string constant")
            try:
                zone = ZoneInfo(tz_name)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise HogQLError(f"Invalid time zone: {tz_name}") from exc
        if value.type == "datetime":
            return value
        if value.is_const:
            return self._as_datetime(value, zone=zone, strict=False)
        raise HogQLError(f"{name}() supports constant strings/numbers or DateTime values only")

    def _as_datetime(
        self, typed: Typed, *, zone: tzinfo | None = None, strict: bool = True
    ) -> Typed:
        if typed.type in ("datetime", "null") or not typed.is_const:
            return typed
        if isinstance(typed.const, bool):
            raise HogQLError("Cannot compare DateTime with a boolean")
        if isinstance(typed.const, int | float):
            return const(datetime.fromtimestamp(typed.const, tz=EPOCH.tzinfo))
        parsed = parse_datetime(str(typed.const), zone or self.tz)
        if parsed is None:
            if strict:
                raise HogQLError(f"Cannot parse DateTime from string '{typed.const}'")
            return Typed(sql_timestamp(None), "datetime", None)
        return const(parsed)

    def _as_uuid(self, typed: Typed, *, strict: bool = True) -> Typed:
        if typed.type in ("uuid", "null") or not typed.is_const:
            return typed if typed.type in ("uuid", "null") else Typed(typed.sql, "uuid")
        canonical = parse_uuid(str(typed.const))
        if canonical is None:
            if strict:
                raise HogQLError(f"Cannot parse UUID from string '{typed.const}'")
            return Typed("NULL", "uuid", None)
        return Typed(sql_string(canonical), "uuid", canonical)

    @staticmethod
    def _uuid_key(typed: Typed) -> str:
        if typed.column == "uuid":
            return "_uuid_key"
        if typed.is_const:
            return "NULL" if typed.const is None else sql_string(clickhouse_uuid_key(typed.const))
        return f"ch_uuid_key({typed.sql})"
