"""The further REST streams through the tap: every key once, every row equal to ground truth."""

from __future__ import annotations

import pytest

from tests.further import FURTHER_STREAMS, assert_rows_equal
from tests.helpers import tap_config
from tests.taprun import run_tap


@pytest.fixture(scope="module")
def full_run(session_sim):
    run = run_tap({**tap_config(session_sim), "page_size": 20}, streams=FURTHER_STREAMS)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.mark.parametrize("stream", FURTHER_STREAMS)
def test_rows_equal_ground_truth(full_run, session_sim, stream):
    emitted = full_run.records.get(stream, [])
    truth = session_sim.truth.records(stream)
    assert truth, f"the simulator should have {stream}"
    assert_rows_equal(stream, emitted, truth, session_sim.project_id)


def test_tap_declares_keys_and_names_the_posthog_serializer():
    from tap_posthog.tap import TapPostHog

    catalog = TapPostHog(config={"personal_api_key": "x", "project_id": 1}).catalog_dict
    by_name = {s["tap_stream_id"]: s for s in catalog["streams"]}
    keys = {name: list(by_name[name]["key_properties"]) for name in FURTHER_STREAMS}
    assert keys["groups"] == ["project_id", "group_type_index", "group_key"]
    assert keys["group_types"] == ["project_id", "group_type_index"]
    assert keys["session_recordings"] == ["project_id", "id"]
    assert keys["cohort_people"] == ["cohort_id", "id"]
    for name in FURTHER_STREAMS:
        assert "posthog" in by_name[name]["schema"]["description"].lower()
