"""Pins every private singer-sdk attribute tap_posthog uses (listed in docs/private-api.md).

Each test fails if the SDK renames the attribute, changes its signature, or stops calling it
where the tap relies on it being called.
"""

from __future__ import annotations

import inspect
import signal

import pytest
from singer_sdk import Stream
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.streams.rest import _HTTPStream

from tap_posthog.events import EventsStream
from tap_posthog.streams import CohortsStream
from tap_posthog.tap import TapPostHog

CONFIG = {"personal_api_key": "phx_x", "project_id": 1, "base_url": "http://127.0.0.1:1"}


@pytest.fixture
def tap():
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield TapPostHog(config=dict(CONFIG))
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def _params(func) -> list[str]:
    return list(inspect.signature(func).parameters)


def test_stream_tap_is_the_tap(tap):
    stream = CohortsStream(tap=tap)
    assert stream._tap is tap


def test_request_sends_then_validates_the_response():
    assert _params(_HTTPStream._request) == ["self", "prepared_request", "context"]
    source = inspect.getsource(_HTTPStream._request)
    assert "self.validate_response(response)" in source
    assert "self.requests_session.send(" in source
    assert "timeout=self.timeout" in source


def test_record_path_methods_keep_their_signatures_and_callers():
    assert _params(Stream._process_record) == [
        "self",
        "record",
        "child_context",
        "partition_context",
    ]
    assert _params(Stream._write_record_message) == ["self", "record"]
    assert _params(Stream._increment_stream_state) == ["self", "latest_record", "context"]
    assert inspect.signature(Stream._increment_stream_state).parameters["context"].kind is (
        inspect.Parameter.KEYWORD_ONLY
    )
    assert _params(Stream._write_state_message) == ["self"]
    sync = inspect.getsource(Stream._sync_records)
    for call in (
        "self._process_record(",
        "self._write_record_message(record)",
        "self._increment_stream_state(record, context=current_context)",
        "self._write_state_message()",
    ):
        assert call in sync, call


def test_state_flush_flag_and_stream_version(tap):
    stream = EventsStream(tap=tap)
    assert stream._stream_version is None
    assert hasattr(stream.state_manager, "is_flushed")
    assert "self.state_manager.is_flushed" in inspect.getsource(Stream._write_state_message)


def test_validate_config_is_called_at_construction_with_the_raw_config():
    assert _params(TapPostHog._validate_config) == ["self", "raise_errors"]
    with pytest.raises(ConfigValidationError) as error:
        TapPostHog(config={**CONFIG, "base_url": "https://user:pw@host"})
    assert any("credentials" in e for e in error.value.errors)


def test_config_is_the_dict_behind_config(tap):
    assert isinstance(tap._config, dict)
    assert {key: tap._config[key] for key in CONFIG} == CONFIG
    assert dict(tap.config) == tap._config


def test_termination_handler_is_what_the_sdk_installs(tap):
    assert _params(TapPostHog._handle_termination) == ["self", "signum", "frame"]
    assert signal.getsignal(signal.SIGTERM) == tap._handle_termination
    assert signal.getsignal(signal.SIGINT) == tap._handle_termination
