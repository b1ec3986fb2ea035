"""``POST /api/projects/{id}/query/``: a HogQLQuery parsed by PostHog's grammar, run on ClickHouse.

The pipeline follows PostHog (posthog/api/query.py, posthog/hogql_queries/hogql_query_runner.py):
validate the body, parse with ``hogql_parser`` (400 on a syntax error), refuse OFFSET
(posthog/hogql/user_query_validator.py), print ClickHouse SQL with bound values
(:mod:`posthog_sim.hogql_printer`), check the failure cache and the read quota, execute on chDB,
turn ClickHouse's limits into PostHog's errors (:mod:`posthog_sim.query_limits`), and render the
HogQLQueryResponse (``hasMore/limit/offset`` only without LIMIT).
"""

from __future__ import annotations

import hashlib
from typing import Any

from .clickhouse import ClickHouseError, Database
from .config import SimConfig
from .hogql_grammar import HogQLSyntaxError, parse_select
from .hogql_printer import HogQLError, Printed, Printer
from .hogql_results import render_rows
from .hogql_text import select_to_hogql
from .query_limits import QueryLimits
from .render import ApiError
from .times import render_drf, utc_now

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
# PostHog's own query settings (HogQLGlobalSettings, posthog/hogql/constants.py; seen in the
# ``clickhouse`` text PostHog returns: "SETTINGS readonly=2, max_execution_time=10,
# max_threads=60, ..., allow_experimental_analyzer=1, transform_null_in=1,
# optimize_min_equality_disjunction_chain_length=4294967295, ..."): the analyzer is what lets
# ClickHouse prune partitions through PostHog's ``toTimeZone(events.timestamp, tz)`` (the
# ``toDate(timestamp)`` sort key is not used through it). ``use_query_condition_cache=0`` keeps
# the rows a query reads independent of the queries before it (ClickHouse 25.3+ caches which
# granules matched a condition), so measurements repeat. Then output settings: how ClickHouse
# hands values to the simulator (not PostHog behaviour).
_SETTINGS = (
    " SETTINGS readonly=2, max_ast_elements=4000000, max_expanded_ast_elements=4000000, "
    "max_bytes_before_external_group_by=0, allow_experimental_analyzer=1, transform_null_in=1, "
    "optimize_min_equality_disjunction_chain_length=4294967295, "
    "use_query_condition_cache=0, date_time_output_format='iso', "
    "output_format_json_quote_64bit_integers=0, output_format_json_quote_decimals=0, "
    "session_timezone='UTC', max_execution_time=60"
)


def parse_body(body: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Validate the request body; return the HogQL text, its placeholder values and modifiers.

    ``query.modifiers`` are the query's own HogQLQueryModifiers, which the runner merges over
    the team's (posthog/hogql_queries/query_runner.py: ``modifiers or query.modifiers`` into
    ``create_default_modifiers_for_team``). The simulator honours ``convertToProjectTimezone``.
    """
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
    modifiers = query.get("modifiers") or {}
    if not isinstance(modifiers, dict):
        raise ApiError.validation("HogQLQuery.modifiers must be an object", attr="query")
    convert = modifiers.get("convertToProjectTimezone")
    if convert is not None and not isinstance(convert, bool):
        raise ApiError.validation(
            "modifiers.convertToProjectTimezone: Input should be a valid boolean", attr="query"
        )
    return text, values, modifiers


def _clickhouse_detail(exc: ClickHouseError) -> str:
    """ClickHouse's message without the ``Code: N. DB::Exception:`` prefix, first line only."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else "ClickHouse error"
    if "DB::Exception: " in text:
        text = text.split("DB::Exception: ", 1)[1]
    return text


class QueryService:
    """Runs HogQL for one simulator's main project on its ClickHouse database."""

    def __init__(self, db: Database, team_id: int, tz_name: str, config: SimConfig) -> None:
        """Serve ``team_id`` (its time zone ``tz_name``) from ``db``."""
        self.db, self.team_id, self.tz_name = db, team_id, tz_name
        self.printer = Printer(db.name, team_id, tz_name, config.query_row_cap)
        self.limits = QueryLimits(config)

    def run(self, body: Any) -> tuple[dict[str, Any], int, int]:
        """Execute a HogQLQuery request body.

        Returns:
            The HogQLQueryResponse, and ClickHouse's rows and bytes read.

        Raises:
            ApiError: 400 for malformed bodies and refused queries, 402/504/512/513 as PostHog.
        """
        text, values, modifiers = parse_body(body)
        convert_tz = modifiers.get("convertToProjectTimezone") is not False
        now = utc_now()
        try:
            tree = parse_select(text)
            printed = self.printer.print_select(tree, values, convert_tz=convert_tz)
        except (HogQLSyntaxError, HogQLError) as exc:
            raise ApiError.validation(str(exc)) from exc
        hogql = select_to_hogql(tree, printed.limit)
        cache_key = (
            "cache_"
            + hashlib.sha256(
                f"{self.team_id}:{hogql}:{sorted(values.items())!r}:{convert_tz}".encode()
            ).hexdigest()[:32]
        )
        self.limits.before(cache_key)
        result = self._execute(printed, cache_key)
        rows = result.rows
        has_more = None
        if not printed.explicit_limit:
            has_more = len(rows) > printed.limit
            rows = rows[: printed.limit]
        response = {
            "results": render_rows(rows, result.types),
            "columns": [c.name for c in printed.columns],
            "types": [[c.name, t] for c, t in zip(printed.columns, result.types, strict=False)],
            "hasMore": None,
            "limit": None,
            "offset": None,
            "hogql": hogql,
            "clickhouse": printed.sql.replace(f"{self.db.name}.", ""),
            "error": None,
            "explain": None,
            "metadata": None,
            "modifiers": {**modifiers, "convertToProjectTimezone": convert_tz},
            "query_status": None,
            "timings": [],
            "is_cached": False,
            "cache_key": cache_key,
            "last_refresh": render_drf(now),
            "next_allowed_client_refresh": render_drf(now),
            "cache_target_age": None,
            "calculation_trigger": None,
        }
        if not printed.explicit_limit:
            # hogql_query_runner.py: HogQLHasMorePaginator only when the query has no LIMIT;
            # otherwise the pydantic fields keep their None defaults (model_dump includes them).
            response.update(hasMore=has_more, limit=printed.limit, offset=0)
        return response, result.rows_read, result.bytes_read

    def _execute(self, printed: Printed, cache_key: str) -> Any:
        try:
            result = self.db.query(printed.sql + _SETTINGS)
        except ClickHouseError as exc:
            self.limits.clickhouse_error(exc, cache_key)
            raise ApiError.validation(_clickhouse_detail(exc)) from exc
        self.limits.after(result, cache_key)
        return result
