"""The "Which is human?" game page: pairs from the newest published days, newest first.

Static like the rest of the site: every round is in the page, and `static/game.js` shuffles
each round's two pictures, keeps the score in `localStorage` and reveals the answer. Only
look-alikes the generator itself accepted are played: a flagged one (below its quality gate,
possibly a near copy) would make a poor question. A photo with look-alikes by several
generators is one round holding each playable one; the page draws one of them at random
each time the round is shown.
"""

from __future__ import annotations

from typing import Any

from pipeline.lib.site.links import relative
from pipeline.lib.site.media import Media
from pipeline.lib.site.pages.pair import measures
from pipeline.lib.site.pages.shared import (
    Pair,
    day_label,
    lookalike_image,
    photo_image,
    quality_flag,
)
from pipeline.lib.votes.ballot import GENERATOR_NAME

GAME_PATH = "game.html"
GAME_ROUNDS = 60  # enough for a sitting, and the page stays small however long Doppel runs
GAME_MEASURES = ("semantic_similarity", "ssim", "colour_distance", "zero_shift")


def playable(pair: Pair) -> bool:
    return pair.status == "succeeded" and quality_flag(pair) is None


def game_page(
    newest: list[tuple[str, list[Pair]]],
    media: dict[str, Media],
    judged: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`newest`: (day, pairs) newest day first; `judged`: the judge's verdicts per day and
    pair (`findings.verdicts`), shown after each answer."""
    judged = judged or {}
    root = ""
    rounds: list[dict[str, Any]] = []
    for day, pairs in newest:
        for pair in pairs:
            if len(rounds) == GAME_ROUNDS:
                break
            photo = photo_image(pair, media, root, large=False)
            made = [
                m
                for v in pair.variants()
                if playable(v) and (m := _machine(v, media, root, judged.get(day, {})))
            ]
            if photo is None or not made:
                continue
            rounds.append(
                {
                    "id": f"{day}/{pair.slug}",
                    "title": pair.title,
                    "day": day_label(day),
                    "href": relative(root, pair.path),
                    "photo": photo,
                    "credit": pair.credit,
                    "vote": vote_photo(pair),
                    "lookalikes": made,  # one drawn per showing (static/game.js)
                    # The first, for anything that reads one look-alike per round.
                    **{k: made[0][k] for k in ("lookalike", "generator", "measures", "judge")},
                }
            )
    return {"root": root, "rounds": rounds}


# What an answer names when the game posts it (DOPPEL_VOTES_URL): the photo's id and the
# images' digests, from which the vote service decides which was picked. A round or a
# look-alike the service could not check (a table without digests, a generator name it
# refuses) has none, and its answers are not posted.


def vote_photo(pair: Pair) -> dict[str, Any] | None:
    photo_id, sha = pair.photo.get("id"), pair.photo.get("sha256")
    if isinstance(photo_id, int) and isinstance(sha, str) and sha:
        return {"photo_id": photo_id, "photo": sha}
    return None


def vote_machine(pair: Pair) -> dict[str, Any] | None:
    gen = pair.look_alike or {}
    generator, sha = gen.get("generator"), gen.get("sha256")
    named = isinstance(generator, str) and GENERATOR_NAME.fullmatch(generator)
    if named and isinstance(sha, str) and sha:
        return {"generator": generator, "image": sha}
    return None


def _machine(
    pair: Pair, media: dict[str, Media], root: str, judged: dict[str, Any]
) -> dict[str, Any] | None:
    """One generator's look-alike as a choice in its round, with what the answer shows and
    the judge's verdict on this pair (photo and generator), if it has one."""
    from pipeline.lib.site.findings import verdict_key

    lookalike = lookalike_image(pair, media, root, large=False)
    if lookalike is None:
        return None
    readings = {m["key"]: m for m in measures(pair)}
    generator = (pair.look_alike or {}).get("generator")
    return {
        "lookalike": lookalike,
        "generator": generator or "the generator",
        "measures": [readings[k] for k in GAME_MEASURES if k in readings],
        "judge": judged.get(verdict_key(pair.photo.get("id"), generator)),
        "vote": vote_machine(pair),
    }
