"""The "Which is human?" game page: pairs from the newest published days, newest first.

Static like the rest of the site: every round is in the page, and `static/game.js` shuffles
each round's two pictures, keeps the score in `localStorage` and reveals the answer. Only
look-alikes the generator itself accepted are played: a flagged one (below its quality gate,
possibly a near copy) would make a poor question.
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


def vote_key(pair: Pair) -> dict[str, Any] | None:
    """What an answer to this round names when the game posts it (DOPPEL_VOTES_URL): the
    photo's id, the generator and both images' digests, from which the vote service decides
    which was picked. None for a round the service could not check (a table without them)."""
    gen = pair.look_alike or {}
    photo_id, generator = pair.photo.get("id"), gen.get("generator")
    photo_sha, made_sha = pair.photo.get("sha256"), gen.get("sha256")
    if not (isinstance(photo_id, int) and isinstance(generator, str)):
        return None
    if not GENERATOR_NAME.fullmatch(generator):  # the service would refuse it: not posted
        return None
    if not (isinstance(photo_sha, str) and photo_sha and isinstance(made_sha, str) and made_sha):
        return None
    return {"photo_id": photo_id, "generator": generator, "photo": photo_sha, "lookalike": made_sha}


def game_page(
    newest: list[tuple[str, list[Pair]]],
    media: dict[str, Media],
    judged: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`newest`: (day, pairs) newest day first; `judged`: the judge's verdicts per day and
    pair (`findings.verdicts`), shown after each answer."""
    from pipeline.lib.site.findings import verdict_key

    judged = judged or {}
    root = ""
    rounds: list[dict[str, Any]] = []
    for day, pairs in newest:
        for pair in pairs:
            if len(rounds) == GAME_ROUNDS or not playable(pair):
                continue
            photo = photo_image(pair, media, root, large=False)
            lookalike = lookalike_image(pair, media, root, large=False)
            if photo is None or lookalike is None:
                continue
            readings = {m["key"]: m for m in measures(pair)}
            gen = pair.look_alike or {}
            rounds.append(
                {
                    "id": f"{day}/{pair.slug}",
                    "title": pair.title,
                    "day": day_label(day),
                    "href": relative(root, pair.path),
                    "photo": photo,
                    "lookalike": lookalike,
                    "credit": pair.credit,
                    "generator": gen.get("generator") or "the generator",
                    "measures": [readings[k] for k in GAME_MEASURES if k in readings],
                    "judge": judged.get(day, {}).get(
                        verdict_key(pair.photo.get("id"), (pair.look_alike or {}).get("generator"))
                    ),
                    "vote": vote_key(pair),
                }
            )
    return {"root": root, "rounds": rounds}
