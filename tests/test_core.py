"""The singer-sdk standard tap tests, run against a live simulator."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from posthog_sim import SimConfig, Simulator
from tap_posthog.tap import TapPostHog

# The SDK builds the test class (and syncs once) at collection time, so the simulator
# starts at import and stops when the interpreter exits.
_SIM = Simulator(SimConfig(seed=11, n_events=1500, tie_groups=((300, 1),))).start()
atexit.register(_SIM.stop)

SAMPLE_CONFIG = {
    "personal_api_key": _SIM.api_key,
    "project_id": str(_SIM.project_id),
    "base_url": _SIM.base_url,
    "events_page_size": 1000,
}

TestTapPostHog = get_tap_test_class(
    tap_class=TapPostHog,
    config=SAMPLE_CONFIG,
    parse_env_config=False,
    suite_config=SuiteConfig(),
)
