"""A backfill against PostHog's real limits (time scaled down): the budget keeps 429s near zero."""

from __future__ import annotations

from collections import Counter

from posthog_sim import SimConfig, Simulator
from tap_posthog.tap import TapPostHog
from tests.taprun import run_tap

# A "minute" lasts 12 s: PostHog allows 480 list requests in it, the tap paces itself to 80 %.
TIME_SCALE = 5


def _backfill(sim: Simulator, **budget):
    config = {
        "personal_api_key": sim.api_key,
        "project_id": sim.project_id,
        "base_url": sim.base_url,
        "page_size": 1,  # one definition a request: 650 requests, well over 480 a "minute"
        "rate_limit_time_scale": TIME_SCALE,
        **budget,
    }
    run = run_tap(config, streams=["event_definitions"], timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    ids = run.ids("event_definitions")
    assert not [i for i, n in Counter(ids).items() if n > 1]
    assert set(ids) == set(sim.truth.ids("event_definitions"))
    pages = [r for r in sim.requests if r.path.endswith("/event_definitions/")]
    throttled = sum(1 for r in pages if r.status == 429)
    return len(pages), throttled


def test_budget_keeps_429s_near_zero_and_the_backfill_completes():
    config = SimConfig(seed=21, n_event_definitions=650, rate_limits=True, time_scale=TIME_SCALE)
    with Simulator(config) as sim:
        requests, throttled = _backfill(sim)
    assert requests > 480
    assert throttled == 0, f"{throttled} of {requests} requests were throttled"


def test_without_the_budget_the_same_backfill_is_throttled():
    """Control: the scenario really exceeds PostHog's limits when the client does not pace.

    Honouring the stated wait means an unpaced client meets one 429 per exhausted window.
    """
    config = SimConfig(seed=21, n_event_definitions=650, rate_limits=True, time_scale=TIME_SCALE)
    with Simulator(config) as sim:
        requests, throttled = _backfill(
            sim, crud_rate_per_minute=1_000_000, crud_rate_per_hour=1_000_000
        )
    assert throttled >= 1, f"none of {requests} requests were throttled"


def test_legacy_query_setting_budgets_for_120_an_hour():
    base = {"personal_api_key": "phx_x", "project_id": 1, "base_url": "http://127.0.0.1:1"}
    default = TapPostHog(config=base, validate_config=False).rate_budget
    legacy = TapPostHog(
        config={**base, "legacy_query_rate_limit": True}, validate_config=False
    ).rate_budget
    assert default.describe("query") == "192/min, 1920/h (80 % of 240/min, 2400/h)"
    assert default.describe("analytics") == "144/min, 960/h (80 % of 180/min, 1200/h)"
    assert legacy.describe("query") == "96/min, 96/h (80 % of 120/min, 120/h)"
    assert legacy.describe("analytics") == default.describe("analytics")
