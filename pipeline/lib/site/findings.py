"""The findings page and the judge's verdicts, from the findings table.

The gallery reads the `findings` asset's table (a DataFrame, `lib/findings/table.py`) when
it is there: `findings.html` turns it into plain sentences, each with its figure, 95 %
interval and count (the sums come from `lib/findings/summary.py`), and every pair page and
game round gets the judge's verdict on its two images. Without the table (a gallery built
before the judge ran) the page says so and the verdicts are left out.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pipeline.lib.core.storage import ObjectNotFound, ObjectStore
from pipeline.lib.findings.intervals import Rate, percent, wilson
from pipeline.lib.site.charts import Series, line_chart

# pandas and numpy (the summaries') are imported where a findings table is read: a gallery
# build without one, and every page-rendering worker, would pay ~0.3 s for them.
if TYPE_CHECKING:
    from pipeline.lib.findings.summary import Correlation, Mean

log = logging.getLogger(__name__)

FINDINGS_PATH = "findings.html"
CONVINCING = 5
GENERATOR_LINES = 4  # distinct line colours (style.css .series--genN)


def read_findings(store: ObjectStore, key: str | None) -> Any:
    """The findings table (a DataFrame) at `key`, or None if it is not there or unreadable."""
    if key is None:
        return None
    try:
        data = store.get(key)
    except ObjectNotFound:
        return None
    from pipeline.lib.findings.table import decode_frame

    try:
        return decode_frame(data)
    except ValueError as exc:
        log.warning("%s: %s; materialize findings again", key, exc)
        return None


def verdict_key(photo_id: Any, generator: Any) -> str:
    return f"{photo_id}/{generator or ''}"


def _said(p: float) -> dict[str, Any]:
    photo = p >= 0.5
    return {
        "p": round(p, 2),
        "says": "photo" if photo else "machine",
        "confidence": round(100 * (p if photo else 1 - p)),
    }


def verdicts(frame: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Per day, per pair (`verdict_key`): the judge's word on the photo and the look-alike."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    if frame is None:
        return out
    judged = frame.dropna(subset=["p_photo", "p_look_alike"])
    for day, photo_id, generator, p, q in zip(
        judged["day"],
        judged["photo_id"],
        judged["generator"],
        judged["p_photo"],
        judged["p_look_alike"],
        strict=True,
    ):
        out.setdefault(str(day), {})[verdict_key(photo_id, generator)] = {
            "photo": _said(float(p)),
            "lookalike": _said(float(q)),
            "fooled": bool(q >= 0.5),
        }
    return out


def people(frame: Any) -> dict[str, dict[str, str]]:
    """Per day, per pair (`verdict_key`): how often people picked the photo, one sentence
    made of numbers only (the votes' counts), for the pair page."""
    out: dict[str, dict[str, str]] = {}
    if frame is None or "people_votes" not in frame:
        return out
    voted = frame[frame["people_votes"].fillna(0) > 0]
    for day, photo_id, generator, n, hits in zip(
        voted["day"],
        voted["photo_id"],
        voted["generator"],
        voted["people_votes"],
        voted["people_photo"],
        strict=True,
    ):
        rate = wilson(int(hits), int(n))
        out.setdefault(str(day), {})[verdict_key(photo_id, generator)] = (
            f"People picked the photo {100 * (rate.value or 0.0):.0f} % of n = {rate.n} times "
            f"(95 % interval {100 * rate.low:.0f}–{100 * rate.high:.0f} %)."
        )
    return out


def _people_and_judge(group: Any) -> str | None:
    """People against the judge on the same pairs of one generator, or None without votes."""
    if "people_votes" not in group:
        return None
    voted = group[group["people_votes"].fillna(0) > 0]
    n = int(voted["people_votes"].sum()) if len(voted) else 0
    if not n:
        return None
    from pipeline.lib.findings.summary import rate_of

    fooled = wilson(n - int(voted["people_photo"].sum()), n)
    sentence = f"People took its look-alike for the photo in {percent(fooled)} of answers"
    judge = rate_of(voted["fooled"])
    if judge.n:
        sentence += f"; the judge, on the same {len(voted)} pairs, in {percent(judge)}"
    return sentence + "."


def _mean(m: Mean, digits: int = 2) -> str:
    if m.value is None:
        return "no figure yet (n = 0)"
    if m.low is None or m.high is None:
        return f"{m.value:.{digits}f} (one pair, no interval; n = 1)"
    return f"{m.value:.{digits}f} (95 % interval {m.low:.{digits}f}–{m.high:.{digits}f}, n = {m.n})"


def _link_sentence(name: str, c: Correlation) -> str:
    if c.r is None or c.low is None or c.high is None:
        return f"{name}: too few judged pairs to say (n = {c.n})."
    figure = f"r = {c.r:+.2f}, 95 % interval {c.low:+.2f} to {c.high:+.2f}, n = {c.n}"
    if c.low > 0:
        return f"The higher the {name}, the more the judge takes the look-alike for a photo " + (
            f"({figure})."
        )
    if c.high < 0:
        return (
            f"The lower the {name}, the more the judge takes the look-alike for a photo ({figure})."
        )
    return f"No clear link between the {name} and fooling the judge ({figure})."


def findings_page(frame: Any, pairs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The page's model. `pairs`: verdict_key → {"href", "title"} of the pairs it links."""
    if frame is None or frame.empty:
        return {"root": "", "available": False}
    from pipeline.lib.findings.summary import by_month, convincing, fooling_measures, head_to_head
    from pipeline.lib.findings.table import MEASURES

    judged = frame["p_look_alike"].notna().any()
    links = [_link_sentence(MEASURES[name][0], c) for name, c in fooling_measures(frame).items()]
    matches = [
        f"On the {rate.n} photos both made a look-alike of, the judge found {a}'s more like a "
        f"photo than {b}'s in {percent(rate)} of them."
        for a, b, rate in head_to_head(frame)
        if rate.n
    ]
    most, least = convincing(frame, CONVINCING)
    months = by_month(frame)
    return {
        "root": "",
        "available": True,
        "judged": bool(judged),
        "headline": _headline(frame, judged),
        "generators": _generators(frame),
        "matches": matches,
        "links": links if judged else [],
        "most": [_pair_link(row, pairs) for row in most.itertuples()],
        "least": [_pair_link(row, pairs) for row in least.itertuples()],
        "months": [
            {
                "month": m["month"],
                "generator": m["generator"],
                "pairs": m["pairs"],
                "fooled": percent(m["fooled"]),
                "kept": percent(m["shared_top_label"]),
            }
            for m in months
        ],
        "charts": [c for c in _charts(months) if c],
    }


def _headline(frame: Any, judged: bool) -> list[str]:
    """How many pairs, and how well the judge tells them apart (if it has judged yet)."""
    from pipeline.lib.findings.summary import judge_accuracy, rate_of

    days = int(frame["day"].nunique())
    return [
        f"{len(frame)} pairs from {days} day{'s' if days != 1 else ''} so far.",
        (
            f"A judge trained on other days tells a photo from a look-alike in "
            f"{percent(judge_accuracy(frame))} of images; it takes a look-alike for a photo in "
            f"{percent(rate_of(frame['fooled']))} of pairs."
            if judged
            else "The judge has no verdict yet: it needs pairs from at least two days, "
            "and is only tested on days it did not learn from."
        ),
    ]


def _generators(frame: Any) -> list[dict[str, Any]]:
    """Per generator: what its look-alikes keep of the photo, and how often they fool the
    judge and people."""
    from pipeline.lib.findings.summary import per_generator
    from pipeline.lib.findings.table import MEASURES

    generators = []
    for g in per_generator(frame):
        carried = [
            {
                "label": MEASURES[name][0],
                "value": _mean(m, 3 if name == "colour_distance" else 2),
                "closer": "higher is closer" if MEASURES[name][1] else "lower is closer",
            }
            for name, m in g.measures.items()
        ]
        sentence = (
            f"{g.generator} look-alikes keep the photo's top label in "
            f"{percent(g.shared_top_label)} of pairs"
            + (
                f", and the judge tells them apart in {percent(g.accuracy)} of images."
                if g.accuracy.n
                else "."
            )
        )
        group = frame[frame["generator"] == g.generator]
        generators.append(
            {
                "name": g.generator,
                "pairs": g.pairs,
                "sentence": sentence,
                "carried": carried,
                "fooled": percent(g.fooled),
                "people": _people_and_judge(group),
            }
        )
    return generators


def _pair_link(row: Any, pairs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    found = pairs.get(verdict_key(row.photo_id, row.generator), {})
    return {
        "href": found.get("href"),
        "title": found.get("title") or f"Photo {row.photo_id}",
        "generator": row.generator,
        "day": row.day,
        "p": f"{row.p_look_alike * 100:.0f} %",
    }


def _charts(months: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    buckets = sorted({f"{m['month']}-01" for m in months})
    names = sorted({m["generator"] for m in months})

    def series(what: str) -> list[Series]:
        out = []
        for i, name in enumerate(names):
            values: dict[str, float | None] = {}
            counted = 0
            for m in months:
                rate: Rate = m[what]
                if m["generator"] == name and rate.n:
                    values[f"{m['month']}-01"] = 100 * (rate.value or 0.0)
                    counted = rate.n  # months come in order: the latest one's
            # The legend shows the latest month's figure: with its count (the table below
            # has every month's interval).
            label = f"{name} (latest month n = {counted})"
            out.append(Series(label, f"gen{i % GENERATOR_LINES}", values))
        return out

    return [
        line_chart(
            "How often the judge takes the look-alike for a photo (% of pairs, by month)",
            buckets,
            "month",
            series("fooled"),
            floor=0.0,
            ceiling=100.0,
        ),
        line_chart(
            "How often the look-alike keeps the photo's top label (% of pairs, by month)",
            buckets,
            "month",
            series("shared_top_label"),
            floor=0.0,
            ceiling=100.0,
        ),
    ]
