"""Deterministic fault injection: scripted per-request faults and seeded random profiles."""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import dataclass

from .config import FAULT_PROFILES

KINDS = (
    "429",
    "500",
    "502",
    "503",
    "504",
    "drop_before_headers",
    "drop_mid_body",
    "slow",
    "query_timeout",
    "query_timeout_default",
    "query_too_slow",
    "query_memory",
)
PROFILE_RATES = {"none": 0.0, "light": 0.03, "heavy": 0.20}
# (kind, weight) mix used by the random profiles; 429 and 503 wait 1 s.
_PROFILE_MIX: tuple[tuple[str, int], ...] = (
    ("429:1", 25),
    ("500", 10),
    ("502", 10),
    ("503:1", 10),
    ("504", 10),
    ("drop_before_headers", 10),
    ("drop_mid_body", 10),
    ("slow", 10),
    ("query_timeout", 5),
)


@dataclass(frozen=True)
class Fault:
    """One fault to apply: ``kind`` from :data:`KINDS` and its numeric argument."""

    kind: str
    arg: float

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Parse ``"429"``, ``"429:5"``, ``"503:2"``, ``"slow:1.5"`` and the plain kinds."""
        kind, _, arg = spec.partition(":")
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {spec!r}; expected one of {KINDS}")
        default = {"slow": 1.0, "429": 1.0, "503": 1.0}.get(kind, 0.0)
        return cls(kind, float(arg) if arg else default)


@dataclass
class _Script:
    pattern: re.Pattern[str]
    method: str | None
    queue: list[Fault]


class FaultInjector:
    """Decides, per request, whether and how to misbehave.

    Scripted faults (``script``) take precedence and apply one per matching request. The
    random profile draws from a RNG seeded with ``seed``; a request identical to one that was
    just faulted by the profile is always served normally, so retrying clients finish.

    Attributes:
        injected: Counter of applied faults by kind (plus ``429_rate_limit`` from rate limits).
    """

    def __init__(self, profile: str = "none", seed: int = 0) -> None:
        """Create an injector with a profile and the RNG seed."""
        self._lock = threading.Lock()
        self._scripts: list[_Script] = []
        self._rng = random.Random(f"faults:{seed}")
        self._spared: set[str] = set()
        self.injected: Counter[str] = Counter()
        self._profile = "none"
        self.profile = profile

    @property
    def profile(self) -> str:
        """Current random profile: "none", "light" or "heavy"."""
        return self._profile

    @profile.setter
    def profile(self, value: str) -> None:
        if value not in FAULT_PROFILES:
            raise ValueError(f"profile must be one of {FAULT_PROFILES}")
        self._profile = value

    def script(self, path_regex: str, kinds: list[str], *, method: str | None = None) -> None:
        """Queue faults for the next requests whose path matches ``path_regex`` (re.search)."""
        faults = [Fault.parse(k) for k in kinds]
        with self._lock:
            self._scripts.append(_Script(re.compile(path_regex), method and method.upper(), faults))

    def clear(self) -> None:
        """Drop scripted faults and reset the profile to "none"."""
        with self._lock:
            self._scripts.clear()
            self._profile = "none"

    def pending(self) -> int:
        """Number of scripted faults not yet applied."""
        with self._lock:
            return sum(len(s.queue) for s in self._scripts)

    def pick(self, method: str, path: str, fingerprint: str) -> Fault | None:
        """Return the fault for this request, or None to serve it normally."""
        with self._lock:
            for entry in self._scripts:
                if entry.queue and entry.pattern.search(path) and entry.method in (None, method):
                    return self._count(entry.queue.pop(0))
            rate = PROFILE_RATES[self._profile]
            if rate <= 0 or not path.startswith("/api/"):
                return None
            draw, choice, slow = self._rng.random(), self._rng.random(), self._rng.uniform(0.1, 2)
            if fingerprint in self._spared:
                self._spared.discard(fingerprint)
                return None
            if draw >= rate:
                return None
            self._spared.add(fingerprint)
            fault = Fault.parse(self._weighted(choice))
            if fault.kind.startswith("query_") and "/query" not in path:
                fault = Fault("500", 0.0)
            if fault.kind == "slow":
                fault = Fault("slow", round(slow, 2))
            return self._count(fault)

    def _count(self, fault: Fault) -> Fault:
        self.injected[fault.kind] += 1
        return fault

    def count_rate_limited(self) -> None:
        """Record a 429 produced by the rate limiter."""
        with self._lock:
            self.injected["429_rate_limit"] += 1

    @staticmethod
    def _weighted(choice: float) -> str:
        total = sum(w for _, w in _PROFILE_MIX)
        point, acc = choice * total, 0
        for spec, weight in _PROFILE_MIX:
            acc += weight
            if point < acc:
                return spec
        return _PROFILE_MIX[-1][0]
