"""Byte relay between the tap's stdout and the target's stdin.

Chunks are forwarded line-aligned. RECORD lines are counted with a byte search, the last STATE
line is kept (the tap's, not the target's: target-duckdb 0.8.0 can echo a stale final state),
and SCHEMA lines reach the target with no ``key_properties``: it then stages every record as one
row (with a key it merges repeats within and across batches), so omniload can check that the
staged rows are exactly the records relayed and apply the key itself. ``--primary-key`` columns
are checked against each SCHEMA here. A stream whose ``ACTIVATE_VERSION`` arrives twice with one
version was read completely (the tap repeats it after the last record of a whole read).
"""

from __future__ import annotations

import json

from omniload.errors import RunError

_TYPE_PREFIXES = (b'{"type":"', b'{"type": "')


def _markers(kind: str) -> tuple[bytes, ...]:
    return tuple(prefix + kind.encode() + b'"' for prefix in _TYPE_PREFIXES)


RECORD = _markers("RECORD")
STATE = _markers("STATE")
SCHEMA = _markers("SCHEMA")
ACTIVATE_VERSION = _markers("ACTIVATE_VERSION")


def count_lines(block: bytes, markers: tuple[bytes, ...]) -> int:
    """Count lines of ``block`` (which starts at a line start) beginning with a marker."""
    total = 0
    for marker in markers:
        total += block.count(b"\n" + marker) + block.startswith(marker)
    return total


def last_line(block: bytes, markers: tuple[bytes, ...]) -> bytes | None:
    """Return the last line of ``block`` that begins with one of ``markers``."""
    best = -1
    for marker in markers:
        pos = block.rfind(b"\n" + marker)
        if pos >= 0:
            best = max(best, pos + 1)
        elif block.startswith(marker):
            best = max(best, 0)
    if best < 0:
        return None
    end = block.find(b"\n", best)
    return block[best:] if end < 0 else block[best:end]


class Relay:
    """Stateful line-aligned filter: ``feed`` chunks, forward what it returns, then ``finish``."""

    def __init__(self, primary_key: tuple[str, ...] | None = None) -> None:
        """``primary_key``: the ``--primary-key`` columns, checked against every SCHEMA."""
        self.primary_key = primary_key
        self.records = 0
        self.schemas = 0
        self.last_state_line: bytes | None = None
        self._carry = b""
        self._versions: dict[str, list[object]] = {}

    def feed(self, chunk: bytes) -> bytes:
        """Take a chunk of tap output; return the complete lines to forward."""
        data = self._carry + chunk if self._carry else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._carry = data
            return b""
        self._carry = data[cut + 1 :]
        return self._process(data[: cut + 1])

    def finish(self) -> bytes:
        """Return the unterminated last line, if any, with a newline added."""
        tail, self._carry = self._carry, b""
        if not tail.strip():
            return b""
        return self._process(tail + b"\n")

    @property
    def last_state(self) -> dict | None:
        """Value of the tap's last STATE message."""
        if self.last_state_line is None:
            return None
        try:
            return json.loads(self.last_state_line)["value"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RunError("the tap emitted an unreadable STATE message", str(exc)) from None

    def _process(self, block: bytes) -> bytes:
        self.records += count_lines(block, RECORD)
        state = last_line(block, STATE)
        if state is not None:
            self.last_state_line = state
        if any(marker in block for marker in SCHEMA):
            block = self._rewrite_schemas(block)
        if any(marker in block for marker in ACTIVATE_VERSION):
            self._note_versions(block)
        return block

    @property
    def completed_streams(self) -> set[str]:
        """Streams whose ``ACTIVATE_VERSION`` was announced again after their records."""
        return {s for s, seen in self._versions.items() if len(seen) > len(set(seen))}

    def _note_versions(self, block: bytes) -> None:
        for line in block.split(b"\n"):
            if line.startswith(ACTIVATE_VERSION):
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                self._versions.setdefault(str(message.get("stream")), []).append(
                    message.get("version")
                )

    def _rewrite_schemas(self, block: bytes) -> bytes:
        lines = block.split(b"\n")
        for i, line in enumerate(lines):
            if line.startswith(SCHEMA):
                self.schemas += 1
                lines[i] = self._without_key(line)
        return b"\n".join(lines)

    def _without_key(self, line: bytes) -> bytes:
        message = json.loads(line)
        props = message.get("schema", {}).get("properties", {})
        by_lower = {name.lower() for name in props}
        missing = [k for k in self.primary_key or () if k.lower() not in by_lower]
        if missing:
            raise RunError(
                f"--primary-key {', '.join(missing)} is not a column of stream "
                f"{message.get('stream')!r} (columns: {', '.join(sorted(props))})"
            )
        message["key_properties"] = []
        return json.dumps(message, separators=(",", ":")).encode()
