"""Run the real `tap-posthog` command and collect what it emits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tap_posthog.tap import TapPostHog

TAP = str(Path(sys.executable).with_name("tap-posthog"))


@dataclass
class TapRun:
    """What one tap process emitted."""

    returncode: int
    stdout: str
    stderr: str
    records: dict[str, list[dict]] = field(default_factory=dict)
    states: list[dict] = field(default_factory=list)
    #: Number of records emitted before each STATE message.
    records_before_state: list[int] = field(default_factory=list)

    @property
    def state(self) -> dict | None:
        """The last STATE message's value."""
        return self.states[-1] if self.states else None

    def ids(self, stream: str) -> list[Any]:
        """Ids emitted for one stream, in order (duplicates kept)."""
        return [r["id"] for r in self.records.get(stream, [])]

    @property
    def last_stderr_line(self) -> str:
        """The last non-empty line on stderr."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def catalog_for(config: dict, streams: list[str] | None) -> dict:
    """Discover the catalog and select only ``streams`` (all when None)."""
    catalog = TapPostHog(config=config, validate_config=False).catalog_dict
    for entry in catalog["streams"]:
        selected = streams is None or entry["tap_stream_id"] in streams
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = selected
    return catalog


def run_tap(
    config: dict,
    *,
    streams: list[str] | None = None,
    state: dict | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    stop_after_records: int | None = None,
) -> TapRun:
    """Run `tap-posthog` as a subprocess with ``config`` (and optional state) and parse stdout.

    ``stop_after_records`` kills the process once that many RECORD messages were read,
    simulating an interrupted sync.
    """
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp, "config.json")
        config_path.write_text(json.dumps(config))
        catalog_path = Path(tmp, "catalog.json")
        catalog_path.write_text(json.dumps(catalog_for(config, streams)))
        args = [TAP, "--config", str(config_path), "--catalog", str(catalog_path)]
        if state is not None:
            state_path = Path(tmp, "state.json")
            state_path.write_text(json.dumps(state))
            args += ["--state", str(state_path)]
        proc_env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_POSTHOG_")} | (
            env or {}
        )
        stderr_path = Path(tmp, "stderr")
        with stderr_path.open("w") as err:
            proc = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=err, env=proc_env, text=True
            )
            run = TapRun(returncode=0, stdout="", stderr="")
            lines = []
            count = 0
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                message = json.loads(line)
                kind = message["type"]
                if kind == "RECORD":
                    run.records.setdefault(message["stream"], []).append(message["record"])
                    count += 1
                    if stop_after_records is not None and count >= stop_after_records:
                        proc.kill()
                        break
                elif kind == "STATE":
                    run.states.append(message["value"])
                    run.records_before_state.append(count)
            proc.wait(timeout=timeout)
        run.returncode = proc.returncode
        run.stdout = "".join(lines)
        run.stderr = stderr_path.read_text()
        return run
