"""Local PostHog API simulator: seeded data, ground truth, HogQL via DuckDB, fault injection.

Usage::

    from posthog_sim import Simulator, SimConfig

    with Simulator(SimConfig(seed=7, n_events=3000)) as sim:   # or sim.start() / sim.stop()
        sim.base_url, sim.api_key, sim.project_id            # http://127.0.0.1:PORT, phx_sim_...
        sim.keys.valid / .missing_scope / .other_project      # personal API keys
        sim.other_project_id, sim.forbidden_project_id
        sim.truth.ids("events"), sim.truth.records("persons") # ground truth per stream
        sim.truth.records("groups", sim.other_project_id)     # ... of the second project
        sim.data.add_events(10, start=a, end=b)               # mutations (thread-safe)
        sim.data.add_events(3, start=a, end=b, project_id=sim.other_project_id)
        sim.faults.script(r"/query/", ["429:2", "500"])      # scripted faults
        sim.faults.profile = "heavy"                           # seeded random faults
        sim.hooks.before_page("persons", callback)            # callback(n) before page n
        sim.requests                                           # RequestRecord log

Endpoints (under ``/api/projects/{id}/`` unless noted): ``/api/projects/``, ``persons/``,
``feature_flags/``, ``cohorts/``, ``event_definitions/``, ``property_definitions/``,
``annotations/`` and ``POST query/`` (HogQL subset, see :mod:`posthog_sim.hogql_sql`).
Command line: ``posthog-sim --port 8000 --seed 1 --events 100000``.
"""

from .config import SimConfig
from .http_types import RequestRecord
from .simulator import Simulator

__all__ = ["RequestRecord", "SimConfig", "Simulator"]
