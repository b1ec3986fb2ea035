"""Deterministic identifiers: UUIDs, API keys and ClickHouse UUID ordering."""

from __future__ import annotations

import hashlib
import random
import re

_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")


def format_uuid(hex32: str) -> str:
    """Insert dashes into 32 hex digits."""
    h = hex32.lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid7_like(rng: random.Random, unix_ms: int) -> str:
    """UUIDv7 layout: 48-bit ms time, version 7, 12 random bits, variant, 62 random bits."""
    rand_a = rng.getrandbits(12)
    rand_b = rng.getrandbits(62) | (1 << 63)
    return format_uuid(f"{unix_ms & ((1 << 48) - 1):012x}7{rand_a:03x}{rand_b:016x}")


def uuid4_like(rng: random.Random) -> str:
    """Random (version 4) UUID drawn from ``rng``."""
    bits = rng.getrandbits(128)
    bits = (bits & ~(0xF << 76)) | (0x4 << 76)
    bits = (bits & ~(0x3 << 62)) | (0x2 << 62)
    return format_uuid(f"{bits:032x}")


def derived_token(seed: int, label: str, length: int = 40) -> str:
    """Hex token derived from the seed and a label (stable across runs)."""
    digest = hashlib.sha256(f"posthog-sim:{seed}:{label}".encode()).hexdigest()
    return (digest * 2)[:length]


def parse_uuid(text: str) -> str | None:
    """Return the canonical lower-case dashed form of a UUID string, or None."""
    cleaned = text.strip().lower()
    if not _UUID.match(cleaned):
        return None
    return format_uuid(cleaned.replace("-", ""))


def clickhouse_uuid_key(uuid: str) -> str:
    """Sort key that orders UUIDs like ClickHouse: second half first, then the first half."""
    h = uuid.replace("-", "").lower()
    return h[16:] + h[:16]
