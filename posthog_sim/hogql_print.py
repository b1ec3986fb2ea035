"""Print HogQL AST nodes back to HogQL text (column names and the ``hogql`` echo)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .hogql_ast import BoolOp, Call, Compare, Const, Field, IsNull, Not, Select, TupleExpr

_PLAIN = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def identifier(name: str) -> str:
    """Identifier as HogQL prints it (backticks only when needed)."""
    if _PLAIN.match(name):
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def literal(value: Any) -> str:
    """Literal as HogQL prints it."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return literal(value.isoformat())
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def to_hogql(node: Any) -> str:
    """Print an expression node."""
    if isinstance(node, Const):
        return literal(node.value)
    if isinstance(node, Field):
        return identifier(node.name) + (f".{identifier(node.prop)}" if node.prop else "")
    if isinstance(node, Call):
        inner = "*" if node.star else ", ".join(to_hogql(a) for a in node.args)
        return f"{node.name}({inner})"
    if isinstance(node, TupleExpr):
        return "(" + ", ".join(to_hogql(i) for i in node.items) + ")"
    if isinstance(node, Compare):
        return f"{_wrap(node.left)} {node.op} {_wrap(node.right)}"
    if isinstance(node, BoolOp):
        return f" {node.op} ".join(_wrap(i) for i in node.items)
    if isinstance(node, Not):
        return f"not({to_hogql(node.expr)})"
    if isinstance(node, IsNull):
        return f"{_wrap(node.expr)} IS {'NOT ' if node.negated else ''}NULL"
    raise TypeError(f"cannot print {node!r}")


def _wrap(node: Any) -> str:
    text = to_hogql(node)
    return f"({text})" if isinstance(node, BoolOp | Compare) else text


def select_to_hogql(query: Select, limit: int | None) -> str:
    """Print a whole SELECT with the effective LIMIT."""
    if query.star:
        cols = "*"
    else:
        cols = ", ".join(
            to_hogql(n) + (f" AS {identifier(a)}" if a else "") for n, a in query.columns
        )
    parts = [f"SELECT {cols}", f"FROM {identifier(query.table)}"]
    if query.where is not None:
        parts.append(f"WHERE {to_hogql(query.where)}")
    if query.group_by:
        parts.append("GROUP BY " + ", ".join(to_hogql(g) for g in query.group_by))
    if query.order_by:
        parts.append(
            "ORDER BY "
            + ", ".join(f"{to_hogql(n)} {'DESC' if desc else 'ASC'}" for n, desc in query.order_by)
        )
    if limit is not None:
        parts.append(f"LIMIT {limit}")
    return "\n".join(parts)
