"""Summaries become Dagster metadata one way, for every asset and check."""

import dagster as dg

from pipeline.defs.metadata import metadata
from pipeline.lib.day.summaries import Markdown


def test_a_summary_becomes_metadata_values() -> None:
    out = metadata(
        {
            "preview": Markdown("| a |"),
            "photos": 3,
            "failures": {"x": "why"},
            "unaccounted": ["p1"],
            "source": "samples",
        }
    )
    assert out["preview"] == dg.MetadataValue.md("| a |")
    assert out["failures"] == dg.MetadataValue.json({"x": "why"})
    assert out["unaccounted"] == dg.MetadataValue.json(["p1"])
    assert out["photos"] == 3 and out["source"] == "samples"
