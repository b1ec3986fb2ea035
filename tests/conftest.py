"""Shared fixtures: live PostHog simulators on 127.0.0.1 (see posthog_sim)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from posthog_sim import SimConfig, Simulator


@pytest.fixture(scope="session", autouse=True)
def _omniload_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """omniload's catalog cache for the suite (never the user's ~/.cache)."""
    before = os.environ.get("OMNILOAD_CACHE_DIR")
    os.environ["OMNILOAD_CACHE_DIR"] = str(tmp_path_factory.mktemp("omniload-cache"))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OMNILOAD_CACHE_DIR", None)
        else:
            os.environ["OMNILOAD_CACHE_DIR"] = before


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A fresh, small simulator (default SimConfig), started; stopped after the test."""
    simulator = Simulator(SimConfig()).start()
    try:
        yield simulator
    finally:
        simulator.close()


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., Simulator]]:
    """``sim_factory(**SimConfig kwargs)`` returns a started simulator; all stop at teardown."""
    started: list[Simulator] = []

    def make(**kwargs: object) -> Simulator:
        simulator = Simulator(SimConfig(**kwargs)).start()  # type: ignore[arg-type]
        started.append(simulator)
        return simulator

    try:
        yield make
    finally:
        for simulator in started:
            simulator.close()


@pytest.fixture(scope="session")
def session_sim() -> Iterator[Simulator]:
    """One simulator for the whole session; read-only use (no mutations, faults or hooks)."""
    simulator = Simulator(SimConfig(seed=2)).start()
    try:
        yield simulator
    finally:
        simulator.close()
