"""Direct RECORD output for the events stream: the SDK's bytes, without its per-record cost."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.mapper import SameRecordTransform

from tap_posthog.signals import OUTPUT_GUARD
from tap_posthog.timeutil import utc_now

if TYPE_CHECKING:
    from datetime import datetime

    from singer_sdk.helpers.types import Context
    from singer_sdk.singerlib.encoding.simple import Message

OUTPUT_BLOCK = 1 << 16
_encode_into = msgspec.json.Encoder().encode_into


def write_stdout(data: bytes | bytearray) -> None:
    """Write ``data`` to stdout in full, then flush.

    ``write`` may write less than it was given: under ``PYTHONUNBUFFERED=1`` (or ``python -u``)
    ``sys.stdout.buffer`` is the raw ``FileIO``, whose ``write`` is a single ``write(2)``, and a
    signal that arrives while that call waits on a full pipe ends it early with the count written
    so far. The signal handler holds the stop back (see ``signals``), so the rest is written here.
    A ``BufferedWriter`` (stdout buffered) does this loop itself and returns the whole length.
    """
    out = sys.stdout.buffer
    written = out.write(data)
    if written < len(data):
        with memoryview(data) as view:
            while written < len(view):
                written += out.write(view[written:])
    out.flush()


class GuardedMsgSpecWriter(MsgSpecWriter):
    """The SDK's msgspec writer; a stop signal waits until the message is written whole."""

    def write_message(self, message: Message) -> None:
        """Write one message (STATE, SCHEMA, RECORD) in full, even if a signal arrives."""
        with OUTPUT_GUARD.writing():
            write_stdout(self.format_message(message))


class DirectOutputMixin:
    """For a sorted stream whose records are built with their final types.

    The stream sets ``_extracted_at`` per page and ``_bookmarks`` (its state) while reading.
    """

    #: Whether records can be written straight to stdout (decided on the first record).
    _direct_output: bool | None = None
    #: ``time_extracted`` of the records of the current page (when the page arrived).
    _extracted_at: datetime | None = None
    #: The state whose bookmark records advance while a run reads.
    _bookmarks: dict[str, Any] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Start with an empty output buffer."""
        super().__init__(*args, **kwargs)
        self._pending = bytearray()

    def _process_record(
        self,
        record: dict,
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        """Without child streams or partitions there is nothing to do per record."""
        if self.child_streams or partition_context:
            super()._process_record(record, child_context, partition_context)

    def _write_record_message(self, record: dict) -> None:
        """Write one RECORD line, byte-identical to the SDK's msgspec writer, but cheaper.

        With nothing deselected, no stream maps and no flattening, the SDK's per-record
        selection walk (which recurses into ``properties``), message object and stdout
        write are skipped: lines collect in a buffer that goes out in 64 KiB blocks and
        always before a STATE message. Otherwise the SDK path.
        """
        if self._direct_output is None:
            self._direct_output = self._can_write_directly()
        if not self._direct_output:
            super()._write_record_message(record)
            return
        message = {
            "type": "RECORD",
            "stream": self.name,
            "record": record,
            "time_extracted": self._extracted_at or utc_now(),
        }
        pending = self._pending
        _encode_into(message, pending, -1)
        pending.extend(b"\n")
        if len(pending) >= OUTPUT_BLOCK:
            self._flush_records()
        self.state_manager.is_flushed = False

    def _flush_records(self) -> None:
        """Write the buffered RECORD lines (whole, even if a stop signal arrives meanwhile).

        A stop signal can also arrive while a line is being encoded into the buffer; the
        flush on the way out then finds it without its newline and leaves it out.
        """
        pending = self._pending
        if pending and pending[-1] != 0x0A:
            del pending[pending.rfind(b"\n") + 1 :]
        if pending:
            with OUTPUT_GUARD.writing():
                write_stdout(pending)
                pending.clear()

    def _increment_stream_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None
    ) -> None:
        """Move the bookmark to the record's timestamp, as the SDK does, minus its overhead.

        Records that do not ascend (never expected: the server sorts them) take the SDK path,
        which stops the sync with its sort error.
        """
        bookmarks = self._bookmarks
        value = latest_record["timestamp"]
        if bookmarks is None or context is not None or value < bookmarks["replication_key_value"]:
            super()._increment_stream_state(latest_record, context=context)
        else:
            bookmarks["replication_key_value"] = value

    def _write_state_message(self) -> None:
        """Records written so far go out before the STATE message that covers them."""
        self._flush_records()
        super()._write_state_message()

    def _can_write_directly(self) -> bool:
        maps = self.stream_maps
        return (
            type(self._tap.message_writer) in (MsgSpecWriter, GuardedMsgSpecWriter)
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == self.name
            and not (maps[0].flattening_enabled and maps[0].flattening_options)
            and all(self.mask.values())
            and self._stream_version is None
        )
