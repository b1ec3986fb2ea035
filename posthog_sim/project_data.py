"""The tables of one project: everything PostHog scopes by ``team_id``.

The main project and the second project of the organization each get one
:class:`ProjectData`, generated from the seed with their own labels. Database ids that PostHog
allocates from one Postgres sequence for every team (flags, cohorts, insights, dashboards,
actions, experiments) are shifted by ``id_offset`` so they never repeat across projects, as
in PostHog; ids made per project (virtual ``$builtin_*`` property definitions, group keys,
group type indexes) repeat, as they do in PostHog.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import catalog, product, shapes
from .cohort_members import make_memberships
from .events import EventStore
from .groups import make_group_types, make_groups
from .people import generate_persons
from .recordings import make_recordings, sort_recordings
from .times import to_epoch_us


@dataclass(frozen=True)
class ProjectShape:
    """How many rows of each table one project gets (``SimConfig`` fields for the main one)."""

    n_events: int
    n_persons: int
    persons_hidden_ratio: float
    persons_hidden_block: int
    n_flags: int
    n_cohorts: int
    n_event_definitions: int
    n_event_properties: int
    n_person_properties: int
    n_session_properties: int
    n_insights: int
    n_dashboards: int
    n_actions: int
    n_experiments: int
    n_surveys: int
    n_groups: int
    n_recordings: int
    events_days: int
    tie_groups: tuple[tuple[int, int], ...]
    #: How event times are spread (``posthog_sim.shapes``); "uniform" over ``events_days``.
    event_shape: str = "uniform"


def _shift(rows: list[dict[str, Any]], offset: int) -> list[dict[str, Any]]:
    for row in rows:
        row["id"] += offset
    return rows


class ProjectData:
    """One project's rows, in PostHog's stored form, and its events table.

    Attributes:
        project_id: The project (team) id.
        tz: The project timezone (HogQL renders datetimes in it; dates parse in it).
    """

    def __init__(
        self,
        project_id: int,
        shape: ProjectShape,
        *,
        seed: int,
        label: str,
        anchor: datetime,
        users: list[dict[str, Any]],
        tz: str,
        id_offset: int = 0,
    ) -> None:
        """Generate every table from ``seed`` and ``label`` (``""`` for the main project)."""
        self.project_id = project_id
        self.tz = ZoneInfo(tz)

        def rng(name: str) -> random.Random:
            return random.Random(f"{seed}:{label}{name}")

        days = shape.events_days
        self.persons = generate_persons(
            rng("persons"),
            shape.n_persons,
            shape.persons_hidden_ratio,
            shape.persons_hidden_block,
            anchor,
            days,
        )
        self.flags = _shift(catalog.make_flags(rng("flags"), shape.n_flags, anchor, users),
                            id_offset)  # fmt: skip
        self.cohorts = _shift(
            catalog.make_cohorts(rng("cohorts"), shape.n_cohorts, anchor, users), id_offset
        )
        self.event_definitions = catalog.make_event_definitions(
            rng("event_definitions"), shape.n_event_definitions, anchor, users
        )
        self.property_definitions = {
            kind: catalog.make_property_definitions(rng(f"props:{kind}"), kind, n, anchor)
            for kind, n in (
                ("event", shape.n_event_properties),
                ("person", shape.n_person_properties),
                ("session", shape.n_session_properties),
            )
        }
        self.dashboards = _shift(
            product.make_dashboards(rng("dashboards"), shape.n_dashboards, anchor, users),
            id_offset,
        )
        self.insights = _shift(
            product.make_insights(
                rng("insights"), shape.n_insights, anchor, users, [d["id"] for d in self.dashboards]
            ),
            id_offset,
        )
        self.actions = _shift(
            product.make_actions(rng("actions"), shape.n_actions, anchor, users), id_offset
        )
        for row in (*self.dashboards, *self.actions):
            row["team_id"] = project_id
        self.experiments = _shift(
            product.make_experiments(
                rng("experiments"), shape.n_experiments, anchor, users, self.flags
            ),
            id_offset,
        )
        self.surveys = product.make_surveys(rng("surveys"), shape.n_surveys, anchor, users)
        self.group_types = make_group_types(rng("group_types"), anchor)
        self.groups = make_groups(rng("groups"), shape.n_groups, anchor)
        self.recordings = make_recordings(
            rng("recordings"), shape.n_recordings, anchor, self.persons
        )
        sort_recordings(self.recordings)
        self.cohort_members = make_memberships(rng("cohort_members"), self.cohorts, self.persons)
        visible = [p for p in self.persons if not p["_hidden"]]
        self.events = EventStore(
            seed if not label else seed + id_offset,
            [(p["id"], p["distinct_ids"][0]) for p in visible],
            [p["properties"] for p in visible],
        )
        #: Store positions of the generated events (the dataset writes them to ClickHouse).
        self.initial_events = self._generate_events(shape, anchor, rng)

    def _generate_events(self, shape: ProjectShape, anchor: datetime, rng: Any) -> Any:
        events = self.events
        lo_us = to_epoch_us(anchor - timedelta(days=shape.events_days))
        hi_us = to_epoch_us(anchor)
        span = hi_us - lo_us
        tie_rng = rng("ties")
        ties = [
            (size, lo_us + tie_rng.randrange(span // 10, max(span // 10 + 1, span * 9 // 10)))
            for size, count in shape.tie_groups
            for _ in range(count)
        ]
        if shape.event_shape == "uniform":
            return events.generate(shape.n_events, lo_us, hi_us, ties)
        import numpy as np

        # Each segment uniform in its span, ingested at the anchor (posthog_sim.shapes).
        shaped = shapes.segments(shape.event_shape, shape.n_events, hi_us)
        return np.concatenate(
            [events.add(n, lo, hi, hi_us - 1, hi_us - 1) for n, lo, hi in shaped]
        )


#: Added to the Postgres ids of the second project's rows (PostHog's ids are global).
OTHER_ID_OFFSET = 100_000


def main_shape(config: Any) -> ProjectShape:
    """The main project: the sizes of :class:`~posthog_sim.config.SimConfig`."""
    return ProjectShape(
        n_events=config.n_events,
        n_persons=config.n_persons,
        persons_hidden_ratio=config.persons_hidden_ratio,
        persons_hidden_block=config.persons_hidden_block,
        n_flags=config.n_flags,
        n_cohorts=config.n_cohorts,
        n_event_definitions=config.n_event_definitions,
        n_event_properties=config.n_event_properties,
        n_person_properties=config.n_person_properties,
        n_session_properties=config.n_session_properties,
        n_insights=config.n_insights,
        n_dashboards=config.n_dashboards,
        n_actions=config.n_actions,
        n_experiments=config.n_experiments,
        n_surveys=config.n_surveys,
        n_groups=config.n_groups,
        n_recordings=config.n_recordings,
        events_days=config.events_days,
        tie_groups=config.tie_groups,
        event_shape=config.event_shape,
    )


def other_shape(config: Any) -> ProjectShape:
    """The second project: a third of every table (at least a few rows), a small tie group."""

    def third(n: int, least: int = 4) -> int:
        return max(least, n // 3) if n else 0

    return ProjectShape(
        n_events=third(config.n_events, 50),
        n_persons=third(config.n_persons, 10),
        persons_hidden_ratio=config.persons_hidden_ratio,
        persons_hidden_block=0,
        n_flags=third(config.n_flags),
        n_cohorts=third(config.n_cohorts),
        n_event_definitions=third(config.n_event_definitions),
        n_event_properties=third(config.n_event_properties),
        n_person_properties=third(config.n_person_properties),
        n_session_properties=third(config.n_session_properties),
        n_insights=third(config.n_insights),
        n_dashboards=third(config.n_dashboards),
        n_actions=third(config.n_actions),
        n_experiments=third(config.n_experiments),
        n_surveys=third(config.n_surveys),
        n_groups=third(config.n_groups, 10),
        n_recordings=third(config.n_recordings, 10),
        events_days=config.events_days,
        tie_groups=((20, 1),) if config.n_events >= 200 else (),
    )
