"""HogQL tables read whole with a keyset on one unique, ordered column (no OFFSET).

A page is ``SELECT ... FROM <table> [WHERE <key> > {after}] ORDER BY <key> LIMIT n``: the
server compares and sorts the key itself, so each page starts exactly after the last row of
the previous one. Rows created or deleted during the read cannot shift later pages (as they
do with OFFSET); a row created behind the cursor is picked up by the next run.

A page shorter than ``n`` does not end the read: older and self-hosted PostHog cap HogQL
results at 10,000 rows, so only an empty page does (one cheap extra query per read).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tap_posthog.client import PostHogStream
from tap_posthog.errors import PostHogAPIError, response_detail
from tap_posthog.hogql import hogql_query

if TYPE_CHECKING:
    from collections.abc import Iterator

    import requests

MAX_LIMIT = 50_000
MIN_LIMIT = 100


class _NarrowPage(PostHogAPIError):
    """PostHog stopped a page query at its time or memory limit."""


@dataclass(frozen=True)
class KeysetQuery:
    """The HogQL text of one table's pages.

    Attributes:
        table: HogQL table name.
        columns: Selected columns, the key among them.
        key: The unique column pages are ordered and cut on.
        key_cast: HogQL function applied to the cursor value (``toUUID`` for UUID keys).
    """

    table: str
    columns: tuple[str, ...]
    key: str
    key_cast: str | None = None

    def page(self, after: str | None, limit: int) -> dict[str, Any]:
        """The ``query`` object of the page after ``after`` (the first page when None)."""
        values: dict[str, Any] = {}
        where = ""
        if after is not None:
            bound = f"{self.key_cast}({{after}})" if self.key_cast else "{after}"
            where = f"\nWHERE {self.key} > {bound}"
            values["after"] = after
        limit = max(1, min(int(limit), MAX_LIMIT))
        text = (
            f"SELECT {', '.join(self.columns)}\nFROM {self.table}{where}\n"
            f"ORDER BY {self.key} ASC\nLIMIT {limit}"
        )
        return hogql_query(text, values)


class HogQLStream(PostHogStream):
    """A stream that sends HogQL queries to the Query API."""

    endpoint_class = "query"
    http_method = "POST"
    #: The ``name`` PostHog records in its query log.
    query_name: ClassVar[str] = "tap-posthog"

    #: The project being read (set per partition before the first query).
    current_project: int | None = None

    @property
    def path(self) -> str:  # type: ignore[override]
        """The Query API endpoint; ``{project_id}`` is the project being read."""
        return "/api/projects/{project_id}/query/"

    def run_query(self, query: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
        """POST one HogQL query; return its column names and rows."""
        body = {"query": query, "refresh": "force_blocking", "name": self.query_name}
        url = self.get_url({"project_id": self.current_project})
        prepared = self.build_prepared_request(method="POST", url=url, json=body)
        response = self.send(prepared)
        result = response.json_body  # type: ignore[attr-defined]
        return list(result.get("columns") or []), list(result.get("results") or [])

    #: True while a page query runs: a time or memory limit then shrinks the page.
    _narrowable = False

    def on_retry(self, status: int, response: requests.Response) -> None:
        """A page that hit PostHog's time or memory limit is retried smaller, not as it was.

        PostHog answers a JSON 504 (timeout), 512 (estimated too slow) or 513 (memory); a
        gateway's HTML 504 is retried like any other 5xx.
        """
        if not self._narrowable or status not in (504, 512, 513):
            return
        is_json = "json" in response.headers.get("Content-Type", "")
        if status != 504 or is_json:
            raise _NarrowPage(response_detail(response))

    def keyset_rows(
        self, query: KeysetQuery, limit: int
    ) -> Iterator[tuple[dict[str, int], list[list[Any]]]]:
        """Yield ``(column index, rows)`` page by page until a page comes back empty."""
        after: str | None = None
        while True:
            self._narrowable = True
            try:
                columns, rows = self.run_query(query.page(after, limit))
            except _NarrowPage as exc:
                if limit <= MIN_LIMIT:
                    msg = (
                        f"a {query.table} query kept hitting PostHog's limits even at "
                        f"{limit} rows a page: {exc}"
                    )
                    raise PostHogAPIError(msg) from None
                limit = max(MIN_LIMIT, limit // 4)
                self.logger.warning(
                    "%s query hit PostHog's limits; retrying with %d rows a page",
                    query.table,
                    limit,
                )
                continue
            finally:
                self._narrowable = False
            if not rows:
                return
            index = {name: i for i, name in enumerate(columns)}
            after = str(rows[-1][index[query.key]])
            yield index, rows
