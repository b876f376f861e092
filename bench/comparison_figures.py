"""How far a change to the measures moves the gallery's figures, on 35 fixed check pairs.

Each bundled photo is paired with itself, a centre crop, a mirrored copy (768 px), the next
photo (unrelated) and its patch remix (seed 1, 768 px). `save` writes the look-alikes (PNG,
lossless) and every figure `compare_images` gives them; `check` measures the same pairs
again with the code as it is now and reports, per pair figure, the largest move, Spearman's
ρ of old and new over the 35 pairs, how many plain-language readings changed band (a
quoted percentage aside) and how far the copy figures are from an exact search; and for
each image's own figures how many changed. Used by `bench/comparisons.py --save-figures /
--check-figures`: save on the old code, check on the new.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from PIL import Image
from scipy.stats import spearmanr

from pipeline.lib.core.images import load_image_file, resize_long_side
from pipeline.lib.generators import LoadedPhoto
from pipeline.lib.generators.patch_remix.generator import PatchRemixGenerator
from pipeline.lib.measures import metrics
from pipeline.lib.measures.comparisons import COPY_SIDE, MEASURE_SIDE, compare_images
from pipeline.lib.site.readings import PAIR_MEASURES
from pipeline.lib.sources.folder import SAMPLE_PHOTOS_DIR

KINDS = ("self", "crop", "mirror", "unrelated", "remix")
COPY_FIGURES = ("zero_shift", "largest_copied_region")
LOOKALIKE_SIDE = 768
IMAGE_FIGURES = ("brightness", "contrast", "colourfulness", "entropy", "phash",
                 "dominant_colours", "labels")  # fmt: skip


def photos() -> dict[str, Image.Image]:
    return {p.stem: load_image_file(p) for p in sorted(SAMPLE_PHOTOS_DIR.glob("*.jpg"))}


def lookalike(name: str, kind: str, all_photos: dict[str, Image.Image]) -> Image.Image:
    photo = all_photos[name]
    w, h = photo.size
    if kind == "self":
        return photo
    if kind == "crop":
        return photo.crop((w // 10, h // 10, w - w // 10, h - h // 10))
    if kind == "mirror":
        return resize_long_side(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), LOOKALIKE_SIDE)
    if kind == "unrelated":
        names = sorted(all_photos)
        other = names[(names.index(name) + 1) % len(names)]
        return resize_long_side(all_photos[other], LOOKALIKE_SIDE)
    remixer = PatchRemixGenerator(output_size=LOOKALIKE_SIDE)
    return remixer.generate(LoadedPhoto(photo, b"", "image/png", seed=1)).image


def save(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    all_photos = photos()
    figures = {}
    for name, photo in all_photos.items():
        for kind in KINDS:
            made = lookalike(name, kind, all_photos)
            made.save(folder / f"{name}.{kind}.png")
            figures[f"{name}.{kind}"] = compare_images(photo, made)
            print(f"saved {name}.{kind}", flush=True)
    (folder / "figures.json").write_text(json.dumps(figures, indent=1))


def check(folder: Path) -> dict[str, Any]:
    """Old figures (folder) against new ones; prints a line per figure, returns a summary."""
    old = json.loads((folder / "figures.json").read_text())
    all_photos = photos()
    new = {
        pair: compare_images(
            all_photos[pair.split(".")[0]], load_image_file(folder / (pair + ".png"))
        )
        for pair in old
    }
    summary: dict[str, Any] = {"pairs": len(old)}
    for measure in PAIR_MEASURES:
        key = measure.key
        before = [float(old[p][key]) for p in old]
        after = [float(new[p][key]) for p in old]
        moves = [abs(a - b) for a, b in zip(after, before, strict=True)]
        worst = max(range(len(moves)), key=moves.__getitem__)
        flips = sum(
            _band(measure.read(a)) != _band(measure.read(b))
            for a, b in zip(after, before, strict=True)
        )
        rho = float(spearmanr(before, after).statistic)
        pair = list(old)[worst]
        print(
            f"{key}: largest move {moves[worst]:.4g} ({pair}: {before[worst]:.4g} → "
            f"{after[worst]:.4g}), Spearman ρ {rho:.4f}, readings changed {flips}"
        )
        summary[key] = {"max_move": round(moves[worst], 5), "rho": round(rho, 4), "flips": flips}
    for key, exact in zip(COPY_FIGURES, _exact_copy_figures(all_photos, folder, old), strict=True):
        worst_old = max(abs(old[p][key] - exact[p]) for p in old)
        worst_new = max(abs(new[p][key] - exact[p]) for p in old)
        print(
            f"{key} against the exact search: old off by ≤ {worst_old:.4f}, new ≤ {worst_new:.4f}"
        )
        summary[key] |= {"old_vs_exact": round(worst_old, 4), "new_vs_exact": round(worst_new, 4)}
    for figure in IMAGE_FIGURES:
        changed = sum(
            old[p][role][figure] != new[p][role][figure]
            for p in old
            for role in ("original", "generated")
        )
        print(f"{figure} (each image's own): changed on {changed} of {2 * len(old)} images")
        summary[figure] = {"changed": changed}
    return summary


def _exact_copy_figures(
    all_photos: dict[str, Image.Image], folder: Path, pairs: dict[str, Any]
) -> tuple[dict[str, float], dict[str, float]]:
    """Each pair's copy figures by exact nearest-neighbour search (`metrics.copy_measures`),
    on the same small copies as `compare_images`'s approximate search (about 1 s a pair)."""
    zero_shift, largest = {}, {}
    for pair in pairs:
        photo = metrics.cap_side(all_photos[pair.split(".")[0]], MEASURE_SIDE)
        lookalike = metrics.fit_to(load_image_file(folder / (pair + ".png")), *photo.shape[:2])
        source = metrics.cap_side(photo, COPY_SIDE)
        output = metrics.fit_to(lookalike, *source.shape[:2])
        exact = metrics.copy_measures(output, source, max_side=None)
        zero_shift[pair], largest[pair] = exact.zero_shift, exact.largest_region
    return zero_shift, largest


def _band(reading: str) -> str:
    """A reading without the figure some of them quote ("7% of the patches")."""
    return re.sub(r"[\d<]+%", "N%", reading)
