#!/usr/bin/env bash
# Set everything up, start the bundled PostHog simulator, load its events with omniload into
# output/demo.duckdb and print what landed. No PostHog account needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
