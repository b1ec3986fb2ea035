"""SessionsStream: HogQL ``sessions`` (posthog/hogql/database/schema/sessions_v3.py).

One row per session, aggregated by PostHog from the session's events, so a row keeps changing
while the session is live (later end, longer duration, more pageviews, newer
``max_inserted_at``). Pages use a keyset on ``($start_timestamp, session_id)``: PostHog refuses
OFFSET in personal-API-key HogQL. A run reads sessions that started at or after the bookmark
minus :data:`SESSIONS_LOOKBACK`; a PostHog session ends after 24 hours at most, so an older
session cannot grow any more. Re-read sessions replace their row downstream (key
``project_id, session_id``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from tap_posthog.client import PostHogStream
from tap_posthog.hogql import hogql_query, request_body
from tap_posthog.timeutil import hogql_utc_text, parse_datetime, to_utc_string, utc_now

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk.helpers.types import Context

#: Sessions that started this long before the newest start already read are read again.
SESSIONS_LOOKBACK = timedelta(hours=25)
#: HogQL field -> record field (the ``id`` and ``duration`` aliases are left out).
COLUMNS: dict[str, str] = {
    name: name.lstrip("$")
    for name in (
        "session_id", "distinct_id", "person_id", "session_timestamp", "$start_timestamp",
        "$end_timestamp", "max_inserted_at", "$urls", "$num_uniq_urls", "$entry_current_url",
        "$entry_pathname", "$entry_hostname", "$end_current_url", "$end_pathname",
        "$end_hostname", "$exit_current_url", "$exit_pathname", "$entry_referring_domain",
        "$entry_utm_source", "$entry_utm_campaign", "$entry_utm_medium", "$entry_utm_term",
        "$entry_utm_content", "$pageview_count", "$autocapture_count", "$screen_count",
        "$session_duration", "$is_bounce", "$channel_type",
    )
}  # fmt: skip
_DATETIMES = frozenset({"session_timestamp", "start_timestamp", "end_timestamp", "max_inserted_at"})


def sessions_query(
    lo: str | None, hi: str, limit: int, after: tuple[str, str] | None = None
) -> dict[str, Any]:
    """One keyset page of sessions started in ``[lo, hi)`` after ``(start, session_id)``."""
    fields = ", ".join(f"`{name}`" if name.startswith("$") else name for name in COLUMNS)
    where = ["`$start_timestamp` < toDateTime({hi}, 'UTC')"]
    values: dict[str, Any] = {"hi": hi}
    if lo is not None:
        where.append("`$start_timestamp` >= toDateTime({lo}, 'UTC')")
        values["lo"] = lo
    if after is not None:
        where.append(
            "(`$start_timestamp`, session_id) > (toDateTime({after_ts}, 'UTC'), {after_id})"
        )
        values["after_ts"], values["after_id"] = after
    text = (
        f"SELECT {fields}\nFROM sessions\nWHERE "
        + "\n  AND ".join(where)
        + f"\nORDER BY `$start_timestamp` ASC, session_id ASC\nLIMIT {int(limit)}"
    )
    return hogql_query(text, values)


class SessionsStream(PostHogStream):
    """Sessions by start time, re-reading the last 25 hours of starts for growing sessions."""

    name = "sessions"
    primary_keys: ClassVar[tuple[str, ...]] = ("project_id", "session_id")
    replication_key = "start_timestamp"
    is_sorted = False  # the lookback starts each run before the bookmark
    endpoint_class = "query"
    http_method = "POST"

    @property
    def path(self) -> str:  # type: ignore[override]
        """The Query API endpoint; ``{project_id}`` is the project being read."""
        return "/api/projects/{project_id}/query/"

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Read one project's sessions (a refused optional stream ends here)."""
        with self.optional_access(context):
            yield from self._read(context)

    def _read(self, context: Context | None) -> Iterator[dict[str, Any]]:
        project = self.project_of(context)
        end_date = self.config.get("end_date")
        hi = min(parse_datetime(end_date), utc_now()) if end_date else utc_now()
        since = self.get_starting_replication_key_value(context)
        lo = None
        if since:
            lo = to_utc_string(parse_datetime(str(since)) - SESSIONS_LOOKBACK)
        limit = int(self.config["events_page_size"])
        after: tuple[str, str] | None = None
        url = self.get_url({"project_id": project})
        while True:
            query = sessions_query(lo, to_utc_string(hi), limit, after)
            body = request_body(query) | {"name": "tap-posthog sessions"}
            prepared = self.build_prepared_request(method="POST", url=url, json=body)
            response = self.send(prepared, context)
            rows = self._records(response.json_body, project)  # type: ignore[attr-defined]
            yield from rows
            if len(rows) < limit:
                return
            after = (rows[-1]["start_timestamp"], rows[-1]["session_id"])

    def _records(self, body: dict[str, Any], project: int) -> list[dict[str, Any]]:
        columns = [COLUMNS.get(c, c.lstrip("$")) for c in body.get("columns") or []]
        out = []
        for row in body.get("results") or []:
            record = dict(zip(columns, row, strict=True))
            for name in _DATETIMES:
                if record.get(name) is not None:
                    record[name] = hogql_utc_text(record[name])
            if record.get("person_id") is not None:
                record["person_id"] = str(record["person_id"])
            if record.get("is_bounce") is not None:
                record["is_bounce"] = bool(record["is_bounce"])
            record["project_id"] = project
            out.append(record)
        return out
