"""Benchmarks: raw HogQL client vs ``tap-posthog`` vs ``omniload ingest`` on one simulator.

Run ``python -m benchmarks.run`` (see the README's Benchmarks section).
"""
