"""omniload: load PostHog data into DuckDB with the tap-posthog | target-duckdb-guarded pair."""

__version__ = "0.1.0"
