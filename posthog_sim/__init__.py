"""Local PostHog API simulator: seeded data, ground truth, HogQL on ClickHouse, fault injection.

Usage::

    from posthog_sim import Simulator, SimConfig

    with Simulator(SimConfig(seed=7, n_events=3000)) as sim:   # or sim.start() / sim.stop()
        sim.base_url, sim.api_key, sim.project_id            # http://127.0.0.1:PORT, phx_sim_...
        sim.keys.valid / .missing_scope / .other_project / .project_scoped  # API keys
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
``annotations/`` and ``POST query/``: HogQL parsed by PostHog's grammar (``hogql-parser``,
:mod:`posthog_sim.hogql_grammar`), printed as ClickHouse SQL (:mod:`posthog_sim.hogql_printer`)
and run on chDB (:mod:`posthog_sim.clickhouse`) over the tables ``events``, ``persons``,
``person_distinct_ids`` and ``sessions`` (:mod:`posthog_sim.ch_tables`). PostHog's query limits
are ``SimConfig`` fields (``query_*``, ``legacy_query_rate_limit``); ClickHouse's rows/bytes read
are on each ``RequestRecord`` and summed by ``sim.requests.clickhouse_read()``. HogQL-table truth:
``sim.data.hogql_persons()``, ``sim.data.hogql_person_distinct_ids()``; ``sim.data.merge_persons``.
Command line: ``posthog-sim --port 8000 --seed 1 --events 100000``.
"""

from .config import SimConfig
from .http_types import RequestRecord
from .simulator import Simulator

__all__ = ["RequestRecord", "SimConfig", "Simulator"]
