"""What each materialization reports: one builder per asset, all in the same plain form.

Each builder (here, and `SiteBuild.report` for the gallery) returns a flat dict of numbers
and strings, with `Markdown` for text to render and lists/dicts for JSON;
`pipeline/defs/metadata.py` turns that into Dagster metadata, the one way every asset and
check attaches it. Previews are narrow markdown tables (short
columns, long texts cut) with each problem's reason as a note below the table, where it
wraps instead of pushing the table past the right edge of the Dagster UI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.lib.day.audit import DayAudit
    from pipeline.lib.day.collect import DayCollection
    from pipeline.lib.day.generate import DayLookAlikes

Summary = dict[str, Any]
NOTES = 20  # reasons listed under a preview; the rest are counted


class Markdown(str):
    """Text to show rendered as markdown."""


def _cell(value: Any, limit: int) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return escape(text)


def escape(text: str) -> str:
    # Pipes and markup would break or inject into the table.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def markdown_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, width: int = 24
) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v, width) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _notes(notes: Sequence[tuple[Any, Any]], limit: int = 300) -> str:
    """Reasons as a list under the table: `- name: reason`."""
    lines = [f"- {_cell(name, 40)}: {_cell(reason, limit)}" for name, reason in notes[:NOTES]]
    if len(notes) > NOTES:
        lines.append(f"- … and {len(notes) - NOTES} more")
    return "\n\n" + "\n".join(lines) if lines else ""


def photos_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    table = markdown_table(
        ["#", "photo", "by", "status"],
        (
            (r["rank"], r.get("title") or r["source_id"], r.get("photographer_name"), r["status"])
            for r in rows
        ),
    )
    return table + _notes([(r["rank"], r["error"]) for r in rows if r.get("error")])


def look_alikes_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    def measure(row: Mapping[str, Any], name: str) -> str:
        value = (row.get("comparisons") or {}).get(name)
        return f"{value:.3f}" if isinstance(value, int | float) else ""

    def seconds(row: Mapping[str, Any]) -> str:
        value = row.get("latency_s")
        return f"{value:.1f}" if isinstance(value, int | float) else ""

    # A generator column only where a photo has look-alikes by several.
    several = len({r.get("generator") for r in rows}) > 1
    headers = ["photo", *(["generator"] if several else []), "status", "s", "SSIM"]
    table = markdown_table(
        headers,
        (
            (
                r["source_id"],
                *([r.get("generator")] if several else []),
                r["status"],
                seconds(r),
                measure(r, "ssim"),
            )
            for r in rows
        ),
    )
    return table + _notes([(r["source_id"], r["error"]) for r in rows if r.get("error")])


def photos_summary(result: DayCollection, source: str) -> Summary:
    """A day's photos: what `unsplash_images` reports (`source` is the run's source)."""
    return {
        "source": result.kept_source or source,
        **photo_counts(result),
        "fetched_this_run": result.fetched,
        "reused_stored_day": result.reused,
        "preview": Markdown(photos_markdown(result.rows)),
    }


def photo_counts(result: DayCollection) -> Summary:
    return {
        "photos": result.used,
        "photos_failed": len(result.rows) - result.stored,
        "photos_untracked": result.untracked,
        "photos_waiting": result.waiting,
    }


def look_alikes_summary(
    results: Sequence[DayLookAlikes], rows: Sequence[Mapping[str, Any]]
) -> Summary:
    """A day's look-alikes: what `generated_images` reports. `results` are this run's, one
    per generator; `rows` the day's table. Counts for each outcome, calls and cost: in all,
    and per generator (`by_generator`) when there are several."""
    # Here, not at the top: the gallery's builder uses this module's Markdown, not the models.
    from pipeline.lib.db import Outcome

    def counts(result: DayLookAlikes) -> Summary:
        return {
            **{str(outcome): result.count(outcome) for outcome in Outcome},
            "generator_calls_this_run": result.generator_calls,
            "made_by_another_run": result.elsewhere,
            "reused": result.reused + result.adopted,
            "cost_usd": round(sum(r["cost_usd"] or 0.0 for r in result.rows), 4),
        }

    each = {result.generator: counts(result) for result in results}
    total = {key: sum(c[key] for c in each.values()) for key in next(iter(each.values()), {})}
    total["cost_usd"] = round(total.get("cost_usd", 0.0), 4)
    models = sorted({r["model"] for r in rows if r.get("model")})
    return {
        "generator": ", ".join(each),
        "models": ", ".join(models),
        **total,
        **({"by_generator": each} if len(each) > 1 else {}),
        "preview": Markdown(look_alikes_markdown(rows)),
    }


def audit_descriptions(audit: DayAudit) -> dict[str, str]:
    """Each check's result in one line, by check name (the UI lists it per day)."""

    def named(items: Mapping[str, str] | Sequence[str], what: str) -> str:
        names = list(items)
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return f"{len(names)} {what}: {shown}"

    waiting = named(audit.waiting, "photo(s) waiting for a retry") if audit.waiting else ""
    failed = named(audit.failures, "failed for good or refused") if audit.failures else ""
    return {
        "every_photo_accounted_for": named(audit.unaccounted, "photo(s) with no outcome")
        if audit.unaccounted
        else f"all {audit.photos} photos have an outcome",
        "stored_images_decode": named(audit.undecodable, "stored image(s) missing or broken")
        if audit.undecodable
        else "every stored image decodes",
        "no_photo_waiting": "; ".join(p for p in (waiting, failed) if p)
        or "no photo waits or failed",
    }


def audit_summaries(audit: DayAudit) -> dict[str, Summary]:
    """Each check's report, by check name."""
    return {
        "every_photo_accounted_for": {"photos": audit.photos, "unaccounted": audit.unaccounted},
        "stored_images_decode": {"problems": audit.undecodable},
        "no_photo_waiting": {"waiting": audit.waiting, "failures": audit.failures},
    }
