"""SpoolWriter: everything arrives in order; a vanished reader surfaces as BrokenPipeError."""

from __future__ import annotations

import os
import threading

import pytest

from omniload.spool import SpoolWriter


def test_everything_arrives_in_order_even_when_the_spool_fills():
    read_fd, write_fd = os.pipe()
    chunks = [bytes([i % 256]) * (1000 + i) for i in range(300)]
    received = bytearray()

    def reader():
        while data := os.read(read_fd, 4096):
            received.extend(data)

    thread = threading.Thread(target=reader)
    thread.start()
    spool = SpoolWriter(write_fd, limit=10_000)  # far less than the 450 kB written
    for chunk in chunks:
        spool.write(chunk)
    spool.close()
    os.close(write_fd)
    thread.join()
    os.close(read_fd)
    assert bytes(received) == b"".join(chunks)


def test_reader_gone_raises_broken_pipe():
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    spool = SpoolWriter(write_fd, limit=1000)

    def write_all():
        for _ in range(100):
            spool.write(b"x" * 500)
        spool.close()

    with pytest.raises(BrokenPipeError):
        write_all()
    os.close(write_fd)
