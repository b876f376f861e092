"""Dagster wiring only, by concern. Nothing here does work at import time."""
