"""Doppel: each day's popular photos beside a machine-made look-alike."""
