"""DRF LimitOffset pagination: parameter parsing and absolute next/previous links."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from .render import ApiError


def _int_param(query: Mapping[str, list[str]], name: str) -> int | None:
    values = query.get(name)
    if not values or values[-1] == "":
        return None
    try:
        number = int(values[-1])
    except ValueError:
        number = -1
    if number < 0:
        raise ApiError.validation(f"'{name}' must be a non-negative integer.", attr=name)
    return number


def limit_offset(query: Mapping[str, list[str]], default_limit: int) -> tuple[int, int]:
    """Read ``limit`` and ``offset`` (400 on non-integers; 0 or missing limit means default)."""
    limit = _int_param(query, "limit") or default_limit
    offset = _int_param(query, "offset") or 0
    return limit, offset


def with_params(base: str, path: str, query: Mapping[str, list[str]], **changes: int | None) -> str:
    """Absolute URL of ``path`` with ``query`` updated by ``changes`` (None removes a key).

    Keys are sorted, as DRF's ``replace_query_param`` does.
    """
    merged = {k: list(v) for k, v in query.items()}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = [str(value)]
    return f"{base}{path}?{urlencode(sorted(merged.items()), doseq=True)}"


def page_links(
    base: str, path: str, query: Mapping[str, list[str]], limit: int, offset: int, total: int
) -> tuple[str | None, str | None]:
    """DRF next/previous links for a page at ``offset`` over ``total`` rows."""
    next_url = None
    if offset + limit < total:
        next_url = with_params(base, path, query, limit=limit, offset=offset + limit)
    previous = None
    if offset > 0:
        back = offset - limit
        previous = with_params(base, path, query, limit=limit, offset=back if back > 0 else None)
    return next_url, previous
