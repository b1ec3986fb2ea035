"""Values that loaders tend to change: empty strings, 0, false, big integers, control characters.

Every generated table carries some of them, so whole-row tests see each kind in each table.
REST tables live in PostgreSQL in PostHog, whose ``text`` and ``jsonb`` types reject U+0000;
PostHog's ingestion replaces NUL before writing person properties (``sanitizeJsonbValue`` in
plugin-server/src/utils/db/utils.ts, called from
plugin-server/src/worker/ingestion/persons/repositories/postgres-person-repository.ts), so
these values carry every control character but NUL. Events (ClickHouse ``String``) can hold
NUL; the guarded target's own test covers it.
"""

from __future__ import annotations

from typing import Any

#: 2^53 + 1: the first integer a double cannot hold.
BIG_INT = 2**53 + 1
CONTROL = "tab\there\nnew line\r\nCRLF \x01\x1f\x7f end"
UNICODE = "Zoë Ångström 李雷 ✨ 😀 \u2028"


def picked(key: str | int, every: int = 4) -> bool:
    """Deterministic one-in-``every`` choice from a row's id (consumes no random numbers)."""
    text = str(key)
    return sum(text.encode()) % every == 0


def properties(n: int) -> dict[str, Any]:
    """A property bag holding every awkward kind of JSON value (``n`` varies the numbers)."""
    return {
        "empty": "",
        "zero": 0,
        "zero_float": 0.0,
        "false": False,
        "big_int": BIG_INT + n,
        "huge_int": 2**64 + n,
        "negative_big": -(BIG_INT + n),
        "float": 0.1 + n,
        "tiny": 5e-324,
        "unicode": UNICODE,
        "control": CONTROL,
        "nested": {"list": [[], {}, None, "", 0, False, [BIG_INT]], "empty": {}},
    }


def text(n: int) -> str:
    """A short text with a newline, a tab, unicode and a quote (for free-text columns)."""
    return f'Line {n}\n\t"quoted" {UNICODE}'
