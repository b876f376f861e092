"""Patch remix: an offline look-alike generator that needs no model weights.

A coarse-to-fine patch nearest-neighbour synthesis (the GPNN family) with a quality gate that
rejects copies and "texture soup". Plain numpy/scipy; no Dagster, no deep-learning framework.
`remix.remix` makes one; `settings.RemixSettings` holds its knobs. This file imports nothing,
so reading the settings (every process does, at definitions load) costs no numpy or scipy.
"""
