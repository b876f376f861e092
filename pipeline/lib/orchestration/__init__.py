"""Helpers for Dagster's side: the instance, gaps, local runs, backfills, run containers."""
