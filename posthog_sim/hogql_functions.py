"""The HogQL functions and operators the simulator prints, with their ClickHouse names.

A subset of PostHog's function mapping (posthog/hogql/functions/mapping.py and
posthog/hogql/functions/clickhouse/*.py): HogQL name -> (ClickHouse name, min args, max args).
"""

from __future__ import annotations

COMPARE = {
    "==": "equals",
    "!=": "notEquals",
    "<": "less",
    ">": "greater",
    "<=": "lessOrEquals",
    ">=": "greaterOrEquals",
    "like": "like",
    "ilike": "ilike",
    "not like": "notLike",
    "not ilike": "notILike",
    "in": "in",
    "not in": "notIn",
    "=~": "match",
}
ARITHMETIC = {"+": "plus", "-": "minus", "*": "multiply", "/": "divide", "%": "modulo"}
# HogQL function -> (ClickHouse function, min args, max args); aggregates are marked below.
FUNCTIONS: dict[str, tuple[str, int, int]] = {
    "count": ("count", 0, 1),
    "countIf": ("countIf", 1, 2),
    "min": ("min", 1, 1),
    "max": ("max", 1, 1),
    "sum": ("sum", 1, 1),
    "avg": ("avg", 1, 1),
    "any": ("any", 1, 1),
    "uniq": ("uniq", 1, 10),
    "uniqExact": ("uniqExact", 1, 10),
    "argMin": ("argMin", 2, 2),
    "argMax": ("argMax", 2, 2),
    "groupArray": ("groupArray", 1, 1),
    "toStartOfMonth": ("toStartOfMonth", 1, 1),
    "toStartOfDay": ("toStartOfDay", 1, 1),
    "toStartOfHour": ("toStartOfHour", 1, 1),
    "toStartOfWeek": ("toStartOfWeek", 1, 2),
    "toStartOfYear": ("toStartOfYear", 1, 1),
    "toYYYYMM": ("toYYYYMM", 1, 1),
    "toDate": ("toDate", 1, 1),
    "toString": ("toString", 1, 1),
    "toUnixTimestamp": ("toUnixTimestamp", 1, 1),
    "dateDiff": ("dateDiff", 3, 3),
    "length": ("length", 1, 1),
    "lower": ("lower", 1, 1),
    "upper": ("upper", 1, 1),
    "concat": ("concat", 2, 100),
    "coalesce": ("coalesce", 1, 100),
    "ifNull": ("ifNull", 2, 2),
    "if": ("if", 3, 3),
    "greatest": ("greatest", 2, 100),
    "least": ("least", 2, 100),
    "abs": ("abs", 1, 1),
    "round": ("round", 1, 2),
    "floor": ("floor", 1, 2),
    "empty": ("empty", 1, 1),
    "notEmpty": ("notEmpty", 1, 1),
    "isNull": ("isNull", 1, 1),
    "isNotNull": ("isNotNull", 1, 1),
    "tuple": ("tuple", 1, 100),
    "JSONExtractString": ("JSONExtractString", 2, 10),
    "JSONExtractInt": ("JSONExtractInt", 2, 10),
    "JSONHas": ("JSONHas", 2, 10),
    "now": ("now64", 0, 0),
    "today": ("today", 0, 0),
}
CASTS = {"toInt": "Int64", "toFloat": "Float64", "toUUID": "UUID", "toBool": "Bool"}

