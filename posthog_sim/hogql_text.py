"""PostHog's AST (JSON) printed back as HogQL: column names and the response's ``hogql`` text."""

from __future__ import annotations

import re
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_OPS = {"==": "=", "and": "AND", "or": "OR"}


def _ident(name: str) -> str:
    return name if _PLAIN.match(name) else "`" + name.replace("`", "\\`") + "`"


def _const(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "[" + ", ".join(_const(v) for v in value) + "]"
    return repr(value)


def to_hogql(node: dict[str, Any]) -> str:
    """HogQL text of an expression."""
    kind = node.get("node")
    if kind == "Field":
        return ".".join(_ident(str(c)) if c != "*" else "*" for c in node.get("chain", []))
    if kind == "Constant":
        return _const(node.get("value"))
    if kind == "Placeholder":
        return "{" + to_hogql(node.get("expr") or {}) + "}"
    if kind == "Alias":
        return f"{to_hogql(node['expr'])} AS {_ident(node['alias'])}"
    if kind == "Call":
        distinct = "DISTINCT " if node.get("distinct") else ""
        args = ", ".join(to_hogql(a) for a in node.get("args") or [])
        return f"{node.get('name')}({distinct}{args})"
    if kind in ("Tuple", "Array"):
        inner = ", ".join(to_hogql(e) for e in node.get("exprs", []))
        return f"({inner})" if kind == "Tuple" else f"[{inner}]"
    if kind in ("And", "Or"):
        return "(" + f" {kind.upper()} ".join(to_hogql(e) for e in node.get("exprs", [])) + ")"
    if kind == "Not":
        return f"NOT {to_hogql(node['expr'])}"
    if kind in ("CompareOperation", "ArithmeticOperation"):
        op = _OPS.get(node.get("op", ""), node.get("op", ""))
        return f"{to_hogql(node['left'])} {op} {to_hogql(node['right'])}"
    if kind == "BetweenExpr":
        neg = "NOT " if node.get("negated") else ""
        return (
            f"{to_hogql(node['expr'])} {neg}BETWEEN {to_hogql(node['low'])} "
            f"AND {to_hogql(node['high'])}"
        )
    return str(kind)


def select_to_hogql(tree: dict[str, Any], limit: int) -> str:
    """The SELECT as HogQL text, with the LIMIT that was applied."""
    parts = ["SELECT " + ", ".join(to_hogql(e) for e in tree.get("select") or [])]
    join = tree.get("select_from") or {}
    if join:
        table = to_hogql(join.get("table") or {})
        parts.append(
            f"FROM {table}" + (f" AS {_ident(join['alias'])}" if join.get("alias") else "")
        )
    if tree.get("where") is not None:
        parts.append("WHERE " + to_hogql(tree["where"]))
    if tree.get("group_by"):
        parts.append("GROUP BY " + ", ".join(to_hogql(g) for g in tree["group_by"]))
    if tree.get("having") is not None:
        parts.append("HAVING " + to_hogql(tree["having"]))
    if tree.get("order_by"):
        parts.append(
            "ORDER BY "
            + ", ".join(
                f"{to_hogql(o['expr'])} {o.get('order') or 'ASC'}" for o in tree["order_by"]
            )
        )
    parts.append(f"LIMIT {limit}")
    return " ".join(parts)
