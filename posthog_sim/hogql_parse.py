"""Tokenizer and recursive-descent parser for the HogQL subset the simulator executes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .hogql_ast import (
    BoolOp,
    Call,
    Compare,
    Const,
    Field,
    HogQLError,
    IsNull,
    Not,
    Select,
    TupleExpr,
)

_TOKEN = re.compile(
    r"""(?P<ws>\s+|--[^\n]*)
      | (?P<str>'(?:[^'\\]|\\.|'')*')
      | (?P<qid>`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*")
      | (?P<ph>\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\})
      | (?P<num>\d+\.\d*(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?|\.\d+)
      | (?P<id>[A-Za-z_$][A-Za-z0-9_$]*)
      | (?P<op><=|>=|!=|<>|==|[=<>(),.*+\-/])""",
    re.VERBOSE,
)
_UNSUPPORTED = {
    "having",
    "distinct",
    "in",
    "like",
    "ilike",
    "join",
    "inner",
    "left",
    "right",
    "full",
    "cross",
    "union",
    "with",
    "prewhere",
    "between",
    "case",
    "sample",
    "settings",
    "array",
    "on",
    "using",
    "interval",
    "format",
}
_KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "order",
    "by",
    "asc",
    "desc",
    "limit",
    "offset",
    "as",
    "is",
    "null",
    "true",
    "false",
    "group",
} | _UNSUPPORTED
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"', "`": "`"}


def _unescape(body: str) -> str:
    body = body.replace("''", "'")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def tokenize(text: str) -> list[tuple[str, Any]]:
    """Split query text into ``(kind, value)`` tokens; kinds: str num id kw qid ph op eof."""
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise HogQLError(f"Syntax error at line 1, column {pos}: unexpected {text[pos]!r}")
        kind, raw = match.lastgroup or "", match.group()
        pos = match.end()
        if kind == "ws":
            continue
        if kind == "str":
            tokens.append(("str", _unescape(raw[1:-1])))
        elif kind == "qid":
            tokens.append(("qid", _unescape(raw[1:-1])))
        elif kind == "ph":
            tokens.append(("ph", raw[1:-1].strip()))
        elif kind == "num":
            tokens.append(("num", float(raw) if any(c in raw for c in ".eE") else int(raw)))
        elif kind == "id" and raw.lower() in _KEYWORDS:
            tokens.append(("kw", raw.lower()))
        else:
            tokens.append((kind, raw))
    tokens.append(("eof", None))
    return tokens


class Parser:
    """Parses one SELECT statement, substituting ``{placeholders}`` from ``values``."""

    def __init__(self, text: str, values: Mapping[str, Any]) -> None:
        """Tokenize ``text``; ``values`` fills the placeholders."""
        self.tokens = tokenize(text)
        self.pos = 0
        self.values = values

    def peek(self, kind: str, value: Any = None) -> bool:
        """True when the next token has this kind (and value, if given)."""
        tkind, tval = self.tokens[self.pos]
        return tkind == kind and (value is None or tval == value)

    def take(self, kind: str, value: Any = None) -> Any:
        """Consume the next token if it matches and return its value, else None."""
        if self.peek(kind, value):
            self.pos += 1
            return self.tokens[self.pos - 1][1]
        return None

    def expect(self, kind: str, value: Any = None) -> Any:
        """Consume a matching token or raise a syntax error."""
        if not self.peek(kind, value):
            want = value or kind
            got = self.tokens[self.pos][1]
            got = "end of input" if got is None else repr(got)
            raise HogQLError(f"Syntax error: expected {want!r}, got {got}")
        return self.take(kind, value)

    def _reject_unsupported(self) -> None:
        kind, value = self.tokens[self.pos]
        if kind == "kw" and value in _UNSUPPORTED:
            raise HogQLError(
                f"Unsupported HogQL syntax in the simulator: {value.upper()}. Supported: SELECT "
                "columns/min/max/count FROM events WHERE ... ORDER BY ... LIMIT n"
            )

    def parse(self) -> Select:
        """Parse the whole statement."""
        self.expect("kw", "select")
        self._reject_unsupported()
        star = self.take("op", "*") is not None
        columns: list[tuple[Any, str | None]] = [] if star else self._columns()
        self.expect("kw", "from")
        table = self.take("id") or self.take("qid")
        if table is None:
            raise HogQLError("Syntax error: expected a table name after FROM")
        self._reject_unsupported()
        query = Select(columns=columns, table=table, star=star)
        if self.take("kw", "where"):
            query.where = self.expr()
        if self.take("kw", "group"):
            self.expect("kw", "by")
            query.group_by = self._list(self.expr)
        self._reject_unsupported()
        if self.take("kw", "order"):
            self.expect("kw", "by")
            query.order_by = self._list(self._order_item)
        if self.take("kw", "limit"):
            query.limit = self.unary()
            if self.take("op", ","):
                query.offset, query.limit = query.limit, self.unary()
        if self.take("kw", "offset"):
            query.offset = self.unary()
        self._reject_unsupported()
        if not self.peek("eof"):
            raise HogQLError(f"Syntax error: unexpected {self.tokens[self.pos][1]!r}")
        return query

    def _list(self, item: Any) -> list[Any]:
        items = [item()]
        while self.take("op", ","):
            items.append(item())
        return items

    def _columns(self) -> list[tuple[Any, str | None]]:
        def column() -> tuple[Any, str | None]:
            node = self.expr()
            alias = None
            if self.take("kw", "as"):
                alias = self.take("id") or self.take("qid") or self.expect("id")
            return node, alias

        return self._list(column)

    def _order_item(self) -> tuple[Any, bool]:
        node = self.expr()
        if self.take("kw", "desc"):
            return node, True
        self.take("kw", "asc")
        return node, False

    def expr(self) -> Any:
        """Parse an OR expression (the lowest precedence)."""
        items = [self._and()]
        while self.take("kw", "or"):
            items.append(self._and())
        return items[0] if len(items) == 1 else BoolOp("or", items)

    def _and(self) -> Any:
        items = [self._not()]
        while self.take("kw", "and"):
            items.append(self._not())
        return items[0] if len(items) == 1 else BoolOp("and", items)

    def _not(self) -> Any:
        if self.take("kw", "not"):
            return Not(self._not())
        return self._comparison()

    def _comparison(self) -> Any:
        left = self.unary()
        self._reject_unsupported()
        if self.take("kw", "is"):
            negated = self.take("kw", "not") is not None
            self.expect("kw", "null")
            return IsNull(left, negated)
        if self.peek("kw", "not"):
            self.pos += 1
            self._reject_unsupported()
            raise HogQLError("Syntax error: unexpected NOT")
        for op in ("=", "==", "!=", "<>", "<", "<=", ">", ">="):
            if self.take("op", op):
                norm = {"==": "=", "<>": "!="}.get(op, op)
                return Compare(norm, left, self.unary())
        if any(self.peek("op", o) for o in "+-*/"):
            raise HogQLError("Unsupported HogQL syntax in the simulator: arithmetic operators")
        return left

    def unary(self) -> Any:
        """Parse a literal, placeholder, field, call, tuple or parenthesised expression."""
        if self.take("op", "-"):
            num = self.expect("num")
            return Const(-num)
        for kind in ("num", "str"):
            if self.peek(kind):
                return Const(self.take(kind))
        if self.peek("ph"):
            return Const(self._placeholder(self.take("ph")))
        for word, value in (("null", None), ("true", True), ("false", False)):
            if self.take("kw", word):
                return Const(value)
        if self.take("op", "("):
            if self.peek("kw", "select"):
                raise HogQLError("Unsupported HogQL syntax in the simulator: subqueries")
            items = self._list(self.expr)
            self.expect("op", ")")
            return items[0] if len(items) == 1 else TupleExpr(items)
        name = self.take("id") or self.take("qid")
        if name is None:
            self._reject_unsupported()
            got = self.tokens[self.pos][1]
            raise HogQLError(f"Syntax error: unexpected {'end of input' if got is None else got!r}")
        if self.take("op", "("):
            return self._call(name)
        if self.take("op", "."):
            key = self.take("id") or self.take("qid") or self.take("str")
            if key is None:
                raise HogQLError(f"Syntax error: expected a name after {name}.")
            return Field(name, prop=key)
        return Field(name)

    def _call(self, name: str) -> Call:
        if self.take("op", "*"):
            self.expect("op", ")")
            return Call(name, [], star=True)
        if self.take("op", ")"):
            return Call(name, [])
        self._reject_unsupported()
        args = self._list(self.expr)
        self.expect("op", ")")
        return Call(name, args)

    def _placeholder(self, name: str) -> Any:
        if name not in self.values:
            available = ", ".join(sorted(self.values)) or "none"
            raise HogQLError(
                f"Placeholder {{{name}}} is not available in this context. "
                f"You can use the following: {available}"
            )
        value = self.values[name]
        if value is not None and not isinstance(value, str | int | float | bool):
            raise HogQLError(f"Placeholder {{{name}}} must be a string, number, boolean or null")
        return value


def parse_select(text: str, values: Mapping[str, Any] | None = None) -> Select:
    """Parse a HogQL SELECT, filling ``{name}`` placeholders from ``values``."""
    if not isinstance(text, str) or not text.strip():
        raise HogQLError("Query is empty")
    return Parser(text, values or {}).parse()
