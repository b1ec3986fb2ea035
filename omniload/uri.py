"""Source (``posthog://``) and destination (``duckdb://``) URI parsing, and key redaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from omniload.errors import UsageError

DEFAULT_BASE_URL = "https://us.posthog.com"
KEY_ENV = "POSTHOG_PERSONAL_API_KEY"
_KEY_PARAMS = ("personal_api_key", "api_key")
_SOURCE_PARAMS = (*_KEY_PARAMS, "project_id", "base_url", "events_person_properties")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_KEY_IN_TEXT = re.compile(r"((?:personal_)?api_key=)[^&\s'\"]*", re.IGNORECASE)
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
#: File stems DuckDB does not use as the catalog name (it attaches main.duckdb as ``main_db``),
#: while target-duckdb writes ``"<stem>".schema.table``: every load would fail.
RESERVED_STEMS = frozenset({"main", "temp", "system"})


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Replace API keys in ``text``: any ``api_key=...`` value and every given secret."""
    out = _KEY_IN_TEXT.sub(r"\1***", text)
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return out


@dataclass(frozen=True)
class SourceURI:
    """A parsed ``posthog://`` URI."""

    api_key: str
    project_ids: tuple[str, ...]
    base_url: str
    #: The tap's ``events_person_properties``: events carry ``person.properties``.
    events_person_properties: bool = False

    @property
    def project_id(self) -> str:
        """The project ids joined by commas (one id alone for a one-project source)."""
        return ",".join(self.project_ids)

    @property
    def host(self) -> str:
        """Host (and port) of the API, used in the state key."""
        return urlsplit(self.base_url).netloc.lower()

    def redacted(self) -> str:
        """The URI as shown to users: ``personal_api_key=***``."""
        text = f"posthog://?personal_api_key=***&project_id={quote(self.project_id, safe=',')}"
        if self.base_url != DEFAULT_BASE_URL:
            text += f"&base_url={self.base_url}"
        if self.events_person_properties:
            text += "&events_person_properties=true"
        return text

    def __repr__(self) -> str:
        """Never show the key in a repr."""
        return f"SourceURI({self.redacted()!r})"


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise UsageError(f"source URI: parameter {name!r} is given more than once")
    return values[0].strip()


def _base_url(value: str | None) -> str:
    if value is None:
        return DEFAULT_BASE_URL
    url = value.rstrip("/")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        # Checked first, so no later message shows the value; the password is never printed.
        raise UsageError(
            "source URI: base_url must not contain a user name or password (user:password@); "
            "PostHog authenticates with the personal API key only"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"source URI: base_url {value!r} must be an http(s) URL such as https://eu.posthog.com"
        )
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise UsageError(f"source URI: base_url {value!r} has an invalid port") from None
    if parts.query or parts.fragment:
        raise UsageError(f"source URI: base_url {value!r} must not have a query or fragment")
    return url


def parse_source_uri(uri: str, env_key: str | None = None) -> SourceURI:
    """Parse ``posthog://?personal_api_key=...&project_id=...[&base_url=...]``.

    ``project_id`` may list several projects: ``project_id=1,2`` or repeated.

    Args:
        uri: The ``--source-uri`` value.
        env_key: Key from ``POSTHOG_PERSONAL_API_KEY``, used when the URI has none.

    Raises:
        UsageError: The URI is malformed or a required parameter is missing or empty.
    """
    text = (uri or "").strip()
    if not text:
        raise UsageError("--source-uri is required, e.g. posthog://?project_id=12345")
    if "://" not in text:
        raise UsageError(
            "malformed source URI: expected posthog://?personal_api_key=...&project_id=..."
        )
    scheme = text.split("://", 1)[0].lower()
    if scheme != "posthog":
        raise UsageError(f"unsupported source scheme {scheme!r}: only posthog:// is supported")
    parts = urlsplit(text)
    if parts.netloc or parts.path not in ("", "/") or parts.fragment:
        raise UsageError(
            "malformed source URI: put every setting in the query string, "
            "posthog://?personal_api_key=...&project_id=...[&base_url=...]"
        )
    params = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(params) - set(_SOURCE_PARAMS))
    if unknown:
        raise UsageError(
            f"source URI: unknown parameter(s) {', '.join(unknown)}; "
            f"expected {', '.join(_SOURCE_PARAMS)}"
        )
    keys = [_single(params, name) for name in _KEY_PARAMS]
    given = [k for k in keys if k is not None]
    if len(given) > 1:
        raise UsageError("source URI: give personal_api_key or api_key, not both")
    key = given[0] if given else (env_key.strip() if env_key is not None else None)
    if key is None:
        raise UsageError(
            f"missing PostHog personal API key: set {KEY_ENV} or personal_api_key= in the URI"
        )
    if not key:
        raise UsageError("the PostHog personal API key is empty")
    project_ids = _project_ids(params.get("project_id"))
    person_properties = _boolean(params, "events_person_properties")
    return SourceURI(key, project_ids, _base_url(_single(params, "base_url")), person_properties)


def _boolean(params: dict[str, list[str]], name: str) -> bool:
    """A true/false URI parameter (false when absent)."""
    value = _single(params, name)
    if value is None:
        return False
    if value.strip().lower() not in _BOOLEANS:
        raise UsageError(f"source URI: {name} must be true or false, got {value!r}")
    return _BOOLEANS[value.strip().lower()]


def _project_ids(values: list[str] | None) -> tuple[str, ...]:
    """``project_id=1,2`` or ``project_id=1&project_id=2`` (or both): ids in the order given."""
    if not values:
        raise UsageError("source URI: project_id is required, e.g. project_id=12345")
    ids = [part.strip() for value in values for part in value.split(",")]
    for pid in ids:
        if not pid.isdigit():
            raise UsageError(f"source URI: project_id must be a number, got {pid!r}")
    repeated = sorted({pid for pid in ids if ids.count(pid) > 1}, key=int)
    if repeated:
        raise UsageError(f"source URI: project_id {', '.join(repeated)} is given more than once")
    return tuple(ids)


def parse_dest_uri(uri: str) -> Path:
    """Parse ``duckdb:///relative.duckdb`` or ``duckdb:////absolute.duckdb`` into a path.

    Raises:
        UsageError: Another scheme, or no path.
    """
    text = (uri or "").strip()
    if not text:
        raise UsageError("--dest-uri is required, e.g. duckdb:///posthog.duckdb")
    if "://" not in text:
        raise UsageError(f"malformed destination URI {redact(text)!r}: expected duckdb:///path")
    scheme, rest = text.split("://", 1)
    if scheme.lower() != "duckdb":
        raise UsageError(
            f"unsupported destination scheme {scheme.lower()!r}: only duckdb:///path.duckdb "
            "is supported"
        )
    path = rest[1:] if rest.startswith("/") else ""
    if not path or path.endswith("/") or "?" in path or "#" in path:
        raise UsageError(
            "malformed destination URI: use duckdb:///relative/path.duckdb "
            "or duckdb:////absolute/path.duckdb"
        )
    stem = Path(path).name.rsplit(".", 1)[0] if "." in Path(path).name else Path(path).name
    if "." in stem:
        # DuckDB names the attached catalog after the file stem; a dot there breaks every
        # qualified name the target writes.
        name = Path(path).name
        raise UsageError(f"the DuckDB file name must have no dot before its extension: {name!r}")
    if stem.lower() in RESERVED_STEMS:
        raise UsageError(
            f"the DuckDB file name {Path(path).name!r} cannot be used: DuckDB reserves the "
            f"catalog name {stem.lower()!r}; choose another file name"
        )
    return Path(path)


@dataclass(frozen=True)
class DestTable:
    """A destination ``schema.table``."""

    schema: str
    table: str

    def __str__(self) -> str:
        """``schema.table``."""
        return f"{self.schema}.{self.table}"


def parse_dest_table(value: str) -> DestTable:
    """Parse ``schema.table`` or ``table`` (schema ``main``).

    DuckDB compares identifiers ignoring case, so the ``_omniload`` schemas are refused in any
    case, and ``Posthog.Events`` names the same table as ``posthog.events``.

    Raises:
        UsageError: Empty parts, more than two parts or unusual characters.
    """
    parts = value.strip().split(".")
    if len(parts) > 2 or not all(parts):
        raise UsageError(f"invalid --dest-table {value!r}: expected schema.table or table")
    for part in parts:
        if not _IDENT_RE.match(part) or part.lower().startswith("_omniload"):
            raise UsageError(
                f"invalid --dest-table {value!r}: {part!r} must be letters, digits and "
                "underscores (not starting with a digit or _omniload)"
            )
    if len(parts) == 1:
        return DestTable("main", parts[0])
    return DestTable(parts[0], parts[1])
