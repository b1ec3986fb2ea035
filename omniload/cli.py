"""``omniload`` command line: flags with ``OMNILOAD_<FLAG>`` environment fallbacks."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

from omniload import __version__, signals
from omniload.errors import Interrupted, OmniloadError, UsageError
from omniload.ingest import DEFAULT_LOCK_TIMEOUT, Options, Plan, make_plan, run
from omniload.progress import MODES, Reporter, default_mode, make_reporter
from omniload.uri import KEY_ENV, redact

ENV_PREFIX = "OMNILOAD_"
_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"", "0", "false", "no", "off", "n"}
_VALUE_FLAGS = (
    "source_uri",
    "source_table",
    "dest_uri",
    "dest_table",
    "incremental_strategy",
    "interval_start",
    "interval_end",
    "progress",
    "deletions",
    "lock_timeout",
)
_BOOL_FLAGS = ("full_refresh", "yes", "debug")


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one-line ``UsageError``s."""

    def error(self, message: str) -> NoReturn:
        """Raise instead of printing usage and exiting."""
        raise UsageError(message)

    def format_help(self) -> str:
        """Help text with the tap's table list filled in (read only when help is shown)."""
        from omniload.tables import TABLES

        names = textwrap.fill(", ".join(TABLES), width=90, subsequent_indent="  ")
        return super().format_help().replace("{tables}", names)


_EXAMPLE = """\
examples:
  export POSTHOG_PERSONAL_API_KEY=phx_...
  omniload ingest --source-uri 'posthog://?project_id=12345' --source-table events \\
      --dest-uri duckdb:///posthog.duckdb --dest-table posthog.events
  omniload ingest --source-uri 'posthog://?project_id=12345&base_url=https://eu.posthog.com' \\
      --source-table persons --dest-uri duckdb:///posthog.duckdb --full-refresh --yes

tables: {tables}

Every flag may also come from OMNILOAD_<FLAG> (e.g. OMNILOAD_SOURCE_URI, OMNILOAD_LOCK_TIMEOUT);
the API key may come from POSTHOG_PERSONAL_API_KEY instead of the URI; the tap's catalog is
cached in OMNILOAD_CACHE_DIR (default ~/.cache/omniload).
exit codes: 0 loaded, 1 run failed (destination unchanged), 2 bad input,
  130 interrupted (Ctrl-C), 143 terminated (SIGTERM)
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``omniload`` parser with its ``ingest`` subcommand."""
    parser = _Parser(
        prog="omniload",
        description="Load PostHog data into DuckDB: omniload ingest --help for the flags.",
        epilog=_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"omniload {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    ingest = sub.add_parser(
        "ingest",
        help="copy one PostHog table into a DuckDB table",
        usage="omniload ingest --source-uri URI --source-table TABLE --dest-uri URI [options]",
        description="Copy one PostHog table into a DuckDB table: runs tap-posthog piped into\n"
        "target-duckdb, stages the rows, then applies them and the bookmark in one transaction.",
        epilog=_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    required = ingest.add_argument_group("required")
    required.add_argument("--source-uri", metavar="URI",
                          help="(required) posthog://?personal_api_key=...&project_id=..."
                          "[&base_url=https://eu.posthog.com]")  # fmt: skip
    required.add_argument("--source-table", metavar="TABLE",
                          help="(required) the PostHog table, e.g. events or persons")  # fmt: skip
    required.add_argument("--dest-uri", metavar="URI",
                          help="(required) duckdb:///relative.duckdb or "
                          "duckdb:////absolute/path.duckdb")  # fmt: skip
    dest = ingest.add_argument_group("destination")
    dest.add_argument("--dest-table", metavar="SCHEMA.TABLE",
                      help="table to load into (default: main.<source table>)")  # fmt: skip
    loading = ingest.add_argument_group("what to load")
    loading.add_argument("--incremental-strategy", metavar="STRATEGY",
                         help="replace, append or merge (default: append for events, merge "
                         "for the others)")  # fmt: skip
    loading.add_argument("--primary-key", action="append", default=[], metavar="COLUMN",
                         help="key column for merge (repeatable or comma-separated; default "
                         "id); must be unique in the data")  # fmt: skip
    loading.add_argument("--interval-start", metavar="WHEN",
                         help="ISO date or datetime, inclusive (UTC unless an offset "
                         "is given)")  # fmt: skip
    loading.add_argument("--interval-end", metavar="WHEN",
                         help="ISO date or datetime, exclusive")  # fmt: skip
    loading.add_argument("--full-refresh", action="store_true", default=None,
                         help="ignore the saved bookmark and replace the table")  # fmt: skip
    loading.add_argument("--deletions", metavar="MODE",
                         help="hard (default) or mark: rows deleted in PostHog leave the table, "
                         "or stay with _sdc_deleted_at set (whole-read tables, after a complete "
                         "read)")  # fmt: skip
    running = ingest.add_argument_group("running")
    running.add_argument("--yes", "-y", action="store_true", default=None,
                         help="do not ask for confirmation (asked only on a terminal)")  # fmt: skip
    running.add_argument("--progress", metavar="MODE",
                         help="interactive, log or json (default: interactive on a terminal, "
                         "else log)")  # fmt: skip
    running.add_argument("--lock-timeout", metavar="SECONDS",
                         help="wait this long for another run on the same DuckDB file "
                         f"(default {DEFAULT_LOCK_TIMEOUT:g}; 0 = fail at once)")  # fmt: skip
    running.add_argument("--debug", action="store_true", default=None,
                         help="show the tap's and target's last log lines on failure")  # fmt: skip
    return parser


def _env_bool(name: str, env: dict[str, str]) -> bool:
    raw = env.get(ENV_PREFIX + name.upper(), "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise UsageError(f"{ENV_PREFIX}{name.upper()} must be true or false, got {raw!r}")


def merge_env(args: argparse.Namespace, env: dict[str, str]) -> argparse.Namespace:
    """Fill flags that were not given from ``OMNILOAD_<FLAG>`` variables."""
    for name in _VALUE_FLAGS:
        if getattr(args, name) is None:
            setattr(args, name, env.get(ENV_PREFIX + name.upper()) or None)
    for name in _BOOL_FLAGS:
        if getattr(args, name) is None:
            setattr(args, name, _env_bool(name, env))
    if not args.primary_key and env.get(ENV_PREFIX + "PRIMARY_KEY"):
        args.primary_key = [env[ENV_PREFIX + "PRIMARY_KEY"]]
    return args


def secrets_in(argv: Sequence[str], env: dict[str, str]) -> tuple[str, ...]:
    """Every API key value the user may have given, to scrub from any output."""
    found = [env.get(KEY_ENV, "")]
    uris = [env.get(ENV_PREFIX + "SOURCE_URI", "")]
    for i, arg in enumerate(argv):
        if arg == "--source-uri" and i + 1 < len(argv):
            uris.append(argv[i + 1])
        elif arg.startswith("--source-uri="):
            uris.append(arg.split("=", 1)[1])
    for uri in uris:
        try:
            params = parse_qs(urlsplit(uri).query, keep_blank_values=True)
        except ValueError:
            continue
        for name in ("personal_api_key", "api_key"):
            found.extend(params.get(name, []))
        for base_url in params.get("base_url", []):
            found.extend(_url_credentials(base_url))
    return tuple(s for s in {x.strip() for x in found} if len(s) >= 3)


def _url_credentials(url: str) -> list[str]:
    """User name and password written into a URL (``https://user:password@host``)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    return [p for p in (parts.password, parts.username) if p]


def confirm(plan: Plan, stdin: Any, stdout: Any) -> bool:
    """Show the plan and ask; only called on a terminal."""
    info = plan.describe()
    print("omniload will run:", file=stdout)
    for key, value in info.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"  {key:<16} {shown}", file=stdout)
    print("Continue? [y/N] ", end="", file=stdout, flush=True)
    answer = stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _options(args: argparse.Namespace, env: dict[str, str]) -> Options:
    return Options(
        source_uri=args.source_uri,
        source_table=args.source_table,
        dest_uri=args.dest_uri,
        dest_table=args.dest_table,
        incremental_strategy=args.incremental_strategy,
        primary_key=args.primary_key,
        interval_start=args.interval_start,
        interval_end=args.interval_end,
        full_refresh=args.full_refresh,
        env_key=env.get(KEY_ENV),
        deletions=args.deletions,
        lock_timeout=args.lock_timeout,
    )


class _Run:
    """One invocation: what must be scrubbed, whether to debug, and the active reporter."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv, self.env = argv, env
        self.secrets = secrets_in(argv, env)
        self.debug = _env_bool_quiet("debug", env) or "--debug" in argv
        self.reporter: Reporter | None = None

    def ingest(self) -> int:
        args = build_parser().parse_args(self.argv)
        if args.command != "ingest":
            raise UsageError("missing command; usage: omniload ingest --source-uri ... (--help)")
        args = merge_env(args, self.env)
        self.debug = args.debug
        mode = (args.progress or default_mode(sys.stderr)).strip().lower()
        if mode not in MODES:
            choices = ", ".join(MODES)
            raise UsageError(f"invalid --progress {args.progress!r}; choose one of {choices}")
        plan = make_plan(_options(args, self.env))
        self.secrets = (*self.secrets, plan.source.api_key)
        ask = not args.yes and _is_tty(sys.stdin) and _is_tty(sys.stdout)
        if ask and not confirm(plan, sys.stdin, sys.stdout):
            print("omniload: aborted", file=sys.stderr)
            return 1
        self.reporter = make_reporter(mode)
        run(plan, self.reporter)
        for name in signals.late_signals():
            self.reporter.note(f"{name} arrived after the commit had started; the load is complete")
        return 0

    def fail(self, message: str, code: int, detail: str | None) -> int:
        one_line = " ".join(redact(message, self.secrets).split())
        if self.reporter is not None:
            self.reporter.error(one_line)
        if self.debug and detail:
            print(redact(detail, self.secrets).rstrip(), file=sys.stderr)
        print(f"omniload: error: {one_line}", file=sys.stderr, flush=True)
        return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``omniload``; return the exit code.

    0 ok, 1 run failure, 2 bad input, 130 SIGINT, 143 SIGTERM, 129 SIGHUP.
    """
    previous = signals.install()
    try:
        state = _Run(list(sys.argv[1:] if argv is None else argv), dict(os.environ))
        try:
            return state.ingest()
        except OmniloadError as exc:
            return state.fail(exc.message, exc.exit_code, exc.detail)
        except KeyboardInterrupt:
            return state.fail("interrupted", 130, None)
        except Exception as exc:  # noqa: BLE001 - last resort: one line, details with --debug
            return state.fail(f"unexpected {type(exc).__name__}: {exc}", 1, traceback.format_exc())
    except Interrupted as exc:  # a second signal while the first was being reported
        return exc.exit_code
    finally:
        signals.restore(previous)


def _env_bool_quiet(name: str, env: dict[str, str]) -> bool:
    try:
        return _env_bool(name, env)
    except UsageError:
        return False


if __name__ == "__main__":
    sys.exit(main())
