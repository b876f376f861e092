"""Day summaries (kept in the site manifest) and the pages made from them: stats, about,
and the totals and months the front page shows."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from pipeline.lib.site.charts import Series, bucket_means, bucket_of, choose_grain, line_chart
from pipeline.lib.site.labels import subject_kept
from pipeline.lib.site.pages.shared import (
    Pair,
    money,
    month_label,
    month_path,
    outcome_counts,
    seconds,
    tidy,
)
from pipeline.lib.site.readings import IMAGE_MEASURES, PAIR_MEASURES, number

BY_GENERATOR = "by_generator."  # day series per generator, for the stats page's comparison
COMPARED_MEASURES = ("semantic_similarity", "ssim", "colour_distance", "patch_swd")
SUBJECT = "subject_kept."  # day series per generator: 1 when the photo's top label is kept
GENERATOR_LINES = 4  # distinct line colours for per-generator series (style.css .series--genN)


def _total_money(value: float) -> str:
    """A total for a stats tile: always a short figure (the tile's note says why it is 0)."""
    return f"${value:.2f}" if value >= 0.1 or value == 0 else f"${value:.3f}"


# Day summaries: what the index, stats and about pages need from each day. They are small and
# kept in the site manifest, so a day whose tables did not change is never parsed again.


def day_info(pairs: list[Pair], skipped: list[dict[str, Any]], problems: list[str]) -> dict:
    series: dict[str, list[float]] = {}  # name → [sum, count] over the day's look-alikes

    def add(name: str, raw: Any) -> None:
        if (v := number(raw)) is not None:
            total = series.setdefault(name, [0.0, 0])
            total[0] += v
            total[1] += 1

    cost = 0.0
    generators: Counter[str] = Counter()
    credits: dict[str, list[Any]] = {}
    for photo in pairs:
        c = photo.credit
        who = repr((c["kind"], c["name"], c.get("profile_url") or c.get("url"), c.get("license")))
        credits.setdefault(who, [c, 0])[1] += 1
        for p in photo.variants():  # every generator's look-alike of the photo
            gen = p.look_alike or {}
            cost += number(gen.get("cost_usd")) or 0.0
            if g := tidy(gen.get("generator"), 80):
                generators[g] += 1
            if p.status == "succeeded":
                _measured(p, add)
    series["cost"] = [cost, 1]
    return {
        "shown": bool(pairs or skipped),
        "slugs": [p.slug for p in pairs],
        "sources": [
            [source.object_key, source.sha256] if source is not None else None
            for photo in pairs
            for p in photo.variants()
            for source in ((p.photo_source(),) if p is photo else ()) + (p.lookalike_source(),)
        ],
        "statuses": dict(Counter(p.status for p in pairs)),
        "cost": cost,
        "generators": dict(generators),
        "series": series,
        "credits": list(credits.values()),
        "problems": problems,
    }


def _measured(p: Pair, add: Callable[[str, Any], None]) -> None:
    """A succeeded look-alike's figures: over all look-alikes, and under its generator's
    name (the stats page sets generators side by side)."""
    gen = p.look_alike or {}
    add("latency", gen.get("latency_s"))
    comparisons = p.comparisons
    name = tidy(gen.get("generator"), 80) or "unknown"
    by = f"{BY_GENERATOR}{name}."
    quality = gen.get("quality")
    add(by + "made", 1.0)
    add(by + "flagged", float(isinstance(quality, dict) and quality.get("accepted") is False))
    add(by + "latency", gen.get("latency_s"))
    add(by + "cost", gen.get("cost_usd"))
    for key in COMPARED_MEASURES:
        add(by + key, comparisons.get(key))
    if (kept := subject_kept(comparisons)) is not None:
        add(f"subject_kept.{name}", float(kept))
        add(by + "subject_kept", float(kept))
    for measure in PAIR_MEASURES:
        add(measure.key, comparisons.get(measure.key))
    for role in ("original", "generated"):
        stats = comparisons.get(role)
        for own in IMAGE_MEASURES:
            add(f"{role}.{own.key}", stats.get(own.key) if isinstance(stats, dict) else None)


def totals(infos: list[dict[str, Any]]) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    generators: Counter[str] = Counter()
    latency = [0.0, 0]
    for info in infos:
        statuses.update(info["statuses"])
        generators.update(info["generators"])
        day_latency = info["series"].get("latency", [0.0, 0])
        latency = [latency[0] + day_latency[0], latency[1] + day_latency[1]]
    return {
        "compare": compare_generators(infos) if len(generators) > 1 else [],
        "days": sum(info.get("days", 1) for info in infos),  # a month's summary counts its days
        "pairs": sum(statuses.values()),
        **outcome_counts(statuses),
        "cost": _total_money(sum(info["cost"] for info in infos)),
        "cost_note": "free: runs locally" if not any(info["cost"] for info in infos) else None,
        "latency": seconds(latency[0] / latency[1]) if latency[1] else None,
        "generators": [{"name": g, "count": n} for g, n in generators.most_common()],
    }


def compare_generators(infos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per generator over all days: how many, how often flagged, and the mean of
    each compared measure, so a site made by more than one generator can set them side by
    side."""
    sums: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for info in infos:
        for name, (total, count) in info["series"].items():
            if name.startswith(BY_GENERATOR):
                generator, _, key = name[len(BY_GENERATOR) :].rpartition(".")
                acc = sums[generator].setdefault(key, [0.0, 0])
                acc[0] += total
                acc[1] += count

    def mean(values: dict[str, list[float]], key: str) -> float | None:
        total, count = values.get(key, [0.0, 0])
        return total / count if count else None

    rows = []
    for generator, values in sorted(sums.items(), key=lambda kv: -kv[1].get("made", [0, 0])[0]):
        cells = [  # in the order of compared_measure_labels()
            m.fmt(v) if (v := mean(values, m.key)) is not None else None
            for m in PAIR_MEASURES
            if m.key in COMPARED_MEASURES
        ]
        flagged, kept = mean(values, "flagged"), mean(values, "subject_kept")
        rows.append(
            {
                "name": generator,
                "made": int(values.get("made", [0, 0])[0]),
                "flagged": None if flagged is None else f"{flagged * 100:.0f}%",
                "subject_kept": None if kept is None else f"{kept * 100:.0f}%",
                "time": seconds(mean(values, "latency")),
                "cost": money(mean(values, "cost")),
                "measures": cells,
            }
        )
    return rows


def compared_measure_labels() -> list[dict[str, str]]:
    return [
        {"key": m.key, "label": m.label, "what": m.what}
        for m in PAIR_MEASURES
        if m.key in COMPARED_MEASURES
    ]


def month_summary(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """A month's days in one summary, for the pages made from every month (front page,
    stats, about): what `totals` and month-grain charts read from a day's summary, summed,
    so that ten years of days are 120 of these, kept in the main manifest."""
    series: dict[str, list[float]] = {}
    statuses: Counter[str] = Counter()
    generators: Counter[str] = Counter()
    for info in infos:
        statuses.update(info["statuses"])
        generators.update(info["generators"])
        for name, (total, count) in info["series"].items():
            acc = series.setdefault(name, [0.0, 0])
            acc[0] += total
            acc[1] += count
    return {
        "days": len(infos),
        "pairs": sum(len(info["slugs"]) for info in infos),
        "statuses": dict(statuses),
        "generators": dict(generators),
        "cost": sum(info["cost"] for info in infos),
        "series": series,
        "problems": [p for info in infos for p in info["problems"]],
    }


def months_summary(months: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each month (from `month_summary`) with its number of days and photos, newest first."""
    return [
        {"month": m, "days": summary["days"], "pairs": summary["pairs"]}
        for m, summary in sorted(months.items(), reverse=True)
    ]


def credits(infos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The photographers of these days, each once with their number of photos, by name."""
    people: dict[str, dict[str, Any]] = {}
    for info in infos:
        for c, count in info["credits"]:
            who = repr(
                (c["kind"], c["name"], c.get("profile_url") or c.get("url"), c.get("license"))
            )
            people.setdefault(who, c | {"count": 0})["count"] += count
    return sorted(people.values(), key=lambda c: (str(c["name"] or "").lower(), c["kind"]))


def stats_page(
    days: list[tuple[str, dict[str, Any]]], summary: dict[str, Any], grain: str | None = None
) -> dict[str, Any]:
    """`days`: (day, its summary), or with `grain` "month", (month's first day, the month's
    summary): a long history is charted by month, from the months' summaries alone."""
    names = [d for d, _ in days]
    charts: list[dict[str, Any] | None] = []
    if names:
        grain = grain or choose_grain(names)
        buckets = sorted({bucket_of(d, grain) for d in names})

        def means(name: str) -> dict[str, float | None]:
            return bucket_means({d: info["series"].get(name, [0.0, 0]) for d, info in days}, grain)

        def chart(title: str, *series: Series) -> None:
            charts.append(line_chart(title, buckets, grain, series, floor=0.0))

        for own in IMAGE_MEASURES:
            chart(
                f"{own.label} ({own.what})",
                Series("Photos", "photo", means(f"original.{own.key}")),
                Series("Look-alikes", "lookalike", means(f"generated.{own.key}")),
            )
        for measure in PAIR_MEASURES[:4]:
            chart(
                f"{measure.label} ({measure.what})",
                Series("Mean over the day's pairs", "measure", means(measure.key)),
            )
        kept = sorted({n for _, info in days for n in info["series"] if n.startswith(SUBJECT)})
        chart(
            "How often the look-alike keeps the photo's main subject (share of pairs)",
            *(
                Series(n[len(SUBJECT) :], f"gen{i % GENERATOR_LINES}", means(n))
                for i, n in enumerate(kept)
            ),
        )
        chart("Cost per day (USD)", Series("Cost per day", "measure", means("cost")))
        chart(
            "Generation time (seconds per look-alike)",
            Series("Mean time", "measure", means("latency")),
        )
    return {
        "root": "",
        "totals": summary,
        "compared": compared_measure_labels(),
        "charts": [c for c in charts if c],
    }


def about_page(months: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    """Photographers are credited on their pairs' pages and, listed, on their month's page:
    a list of every photographer here would grow with the history (ten years of Unsplash's
    popular photos: tens of thousands of names), so this page links the months."""
    return {
        "root": "",
        "measures": [{"label": m.label, "what": m.what} for m in PAIR_MEASURES],
        "image_measures": [{"label": m.label, "what": m.what} for m in IMAGE_MEASURES],
        "months": [
            m | {"href": month_path(m["month"]), "label": month_label(m["month"])} for m in months
        ],
        "totals": summary,
    }
