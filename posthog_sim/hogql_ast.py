"""AST nodes and the error type of the HogQL subset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class HogQLError(Exception):
    """Query problem reported to the client as a 400 validation error."""


@dataclass
class Const:
    """A literal (placeholders are substituted as literals)."""

    value: Any


@dataclass
class Field:
    """A column reference (``timestamp``, ``$session_id``) or ``properties.<key>``."""

    name: str
    prop: str | None = None


@dataclass
class Call:
    """A function call; ``star`` marks ``count(*)``."""

    name: str
    args: list[Any]
    star: bool = False


@dataclass
class TupleExpr:
    """``(a, b, ...)`` with two or more items."""

    items: list[Any]


@dataclass
class Compare:
    """Binary comparison; ``op`` is one of ``= != < <= > >=``."""

    op: str
    left: Any
    right: Any


@dataclass
class BoolOp:
    """``and`` / ``or`` over two or more operands."""

    op: str
    items: list[Any]


@dataclass
class Not:
    """Logical negation."""

    expr: Any


@dataclass
class IsNull:
    """``x IS [NOT] NULL``."""

    expr: Any
    negated: bool


@dataclass
class Select:
    """A single SELECT over one table."""

    columns: list[tuple[Any, str | None]]
    table: str
    where: Any = None
    group_by: list[Any] = field(default_factory=list)
    order_by: list[tuple[Any, bool]] = field(default_factory=list)
    limit: Any = None
    offset: Any = None
    star: bool = False
