"""Deterministic column values of generated events: names, properties, hashes, UUIDv7s.

Every value is a function of an event's index and the seed (splitmix64 hashes), so the
simulator's ground truth needs no copy of the rows (:mod:`posthog_sim.events`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

# Event names with their share (percent) of generated events.
EVENT_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("$pageview", 38),
    ("$autocapture", 15),
    ("$pageleave", 10),
    ("$identify", 4),
    ("$feature_flag_called", 6),
    ("$exception", 4),
    ("signed_up", 5),
    ("purchase", 5),
    ("checkout started", 6),
    ("$web_vitals", 5),
    ("événement_spécial", 2),
)
# Property keys that generated events carry.
EVENT_PROPERTY_KEYS: tuple[str, ...] = (
    "$browser",
    "$os",
    "$current_url",
    "$lib",
    "$session_id",
    "amount",
    "currency",
    "plan",
    "$feature_flag",
    "$feature_flag_response",
    "$exception_message",
    "$set",
)
_U64 = np.uint64
_MASK62 = _U64((1 << 62) - 1)
_BIT63 = _U64(1 << 63)
_MASK48 = (1 << 48) - 1
EVENT_NAMES = [name for name, _ in EVENT_WEIGHTS]
EVENT_CUMULATIVE = np.cumsum([weight for _, weight in EVENT_WEIGHTS])
_BROWSERS = ("Chrome", "Firefox", "Safari", "Edge", "Opera")
_OSES = ("Mac OS X", "Windows", "Linux", "iOS", "Android")
_PLANS = ("free", "pro", "enterprise")


def hash64(x: np.ndarray, seed: int, salt: int) -> np.ndarray:
    """splitmix64 of ``x`` (int64 array) mixed with seed and salt: uint64 array."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) * _U64(0x9E3779B97F4A7C15)
        z = z + _U64((seed * 1_000_003 + salt * 7919 + 1) & ((1 << 64) - 1))
        z ^= z >> _U64(30)
        z *= _U64(0xBF58476D1CE4E5B9)
        z ^= z >> _U64(27)
        z *= _U64(0x94D049BB133111EB)
        z ^= z >> _U64(31)
    return z


def mod(h: np.ndarray, n: int) -> np.ndarray:
    """``h`` modulo ``n`` (at least 1), as int64."""
    return (h % _U64(max(1, n))).astype(np.int64)


def uuid7_parts(ms: np.ndarray, rand_a: np.ndarray, rand_b: np.ndarray) -> tuple[Any, Any]:
    """High and low 64 bits of UUIDv7s (version 7, RFC 4122 variant)."""
    hi = (
        ((ms.astype(np.int64) & _MASK48).astype(np.uint64) << _U64(16))
        | _U64(0x7000)
        | (rand_a.astype(np.uint64) & _U64(0xFFF))
    )
    lo = (rand_b & _MASK62) | _BIT63
    return hi, lo


def uuid_text(hi: int, lo: int) -> str:
    """The canonical text of the UUID with these high and low 64 bits."""
    h = f"{hi:016x}{lo:016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def event_properties(
    event: str, distinct_id: str, session: str, h3: int, h4: int, h5: int, h6: int
) -> str:
    """The properties JSON of a generated event (from its hashes ``h3``..``h6``)."""
    parts = [
        f'"$browser":"{_BROWSERS[h3 % 5]}"',
        f'"$os":"{_OSES[h4 % 5]}"',
        f'"$current_url":"https://example.com/p/{h5 % 60}"',
        '"$lib":"web"',
    ]
    if session:
        parts.append(f'"$session_id":"{session}"')
    if event == "purchase":
        cents = h6 % 100_000
        parts.append(f'"amount":{cents // 100}.{cents % 100:02d},"currency":"EUR"')
    elif event == "signed_up":
        parts.append(f'"plan":"{_PLANS[h6 % 3]}"')
    elif event == "$feature_flag_called":
        flag = "true" if h6 % 2 == 0 else "false"
        parts.append(f'"$feature_flag":"flag-{h6 % 40}","$feature_flag_response":{flag}')
    elif event == "$exception":
        message = f'TypeError: "x" is undefined\n  at ünïcode.js:{h6 % 99}'
        parts.append('"$exception_message":' + json.dumps(message, ensure_ascii=False))
    elif event == "$identify":
        parts.append('"$set":{"email":' + json.dumps(distinct_id + "@example.com") + "}")
    return "{" + ",".join(parts) + "}"


def elements_chain(h5: int) -> str:
    """The elements chain of a generated ``$autocapture`` event."""
    return (
        'button.btn.btn-primary:attr__class="btn btn-primary"'
        f'nth-child="{h5 % 5 + 1}"nth-of-type="1"text="Sign up"'
    )
