"""``posthog-sim`` command: serve a simulator until SIGTERM/SIGINT, or print ground truth."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .config import FAULT_PROFILES, SimConfig
from .simulator import Simulator
from .truth import STREAMS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="posthog-sim", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = ephemeral)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--events", type=int, default=SimConfig.n_events, help="number of events")
    parser.add_argument("--persons", type=int, default=SimConfig.n_persons)
    parser.add_argument("--events-days", type=int, default=SimConfig.events_days)
    parser.add_argument("--fault-profile", choices=FAULT_PROFILES, default="none")
    parser.add_argument("--fault-seed", type=int, default=None)
    parser.add_argument("--rate-limits", action="store_true", help="enforce PostHog rate limits")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="rate-limit clock speed-up (60: a minute lasts one second)",
    )
    parser.add_argument(
        "--timezone", default=SimConfig.main_project_timezone, help="main project timezone"
    )
    parser.add_argument(
        "--print-truth",
        metavar="TABLE",
        choices=STREAMS,
        help="print the ground-truth ids of TABLE as a JSON list and exit",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line."""
    args = _parser().parse_args(argv)
    config = SimConfig(
        seed=args.seed,
        port=args.port,
        n_events=args.events,
        n_persons=args.persons,
        events_days=args.events_days,
        fault_profile=args.fault_profile,
        fault_seed=args.fault_seed,
        rate_limits=args.rate_limits,
        time_scale=args.time_scale,
        main_project_timezone=args.timezone,
    )
    sim = Simulator(config)
    if args.print_truth:
        print(json.dumps(sim.truth.ids(args.print_truth)))
        return 0
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sim.start()
    print(
        json.dumps(
            {
                "base_url": sim.base_url,
                "api_key": sim.api_key,
                "project_id": sim.project_id,
                "other_project_id": sim.other_project_id,
            }
        ),
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.close()
    # chDB's engine can crash while the interpreter tears it down: leave without finalization.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
