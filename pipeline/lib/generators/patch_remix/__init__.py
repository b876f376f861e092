"""Patch remix: an offline look-alike generator that needs no model weights.

A coarse-to-fine patch nearest-neighbour synthesis (the GPNN family) with a quality gate that
rejects copies and "texture soup". Plain numpy/scipy; no Dagster, no deep-learning framework.
"""

from pipeline.lib.generators.patch_remix.remix import VERSION, RemixResult, remix
from pipeline.lib.generators.patch_remix.settings import RemixSettings

__all__ = ["VERSION", "RemixResult", "RemixSettings", "remix"]
