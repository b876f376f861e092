"""The one way assets and checks attach metadata: a summary from `pipeline.lib.day.summaries`
(or `SiteBuild.report`) turned into Dagster metadata values."""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from pipeline.lib.day.summaries import Markdown


def metadata(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Markdown renders as markdown, lists and dicts as JSON, the rest as it is."""
    return {key: _value(value) for key, value in summary.items()}


def _value(value: Any) -> Any:
    if isinstance(value, Markdown):
        return dg.MetadataValue.md(str(value))
    if isinstance(value, list | dict | tuple):
        return dg.MetadataValue.json(list(value) if isinstance(value, tuple) else value)
    return value
