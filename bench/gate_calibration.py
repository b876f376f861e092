"""Both offline generators' gates on a wider set than the bundled photos, by kind of image.

    .venv/bin/python bench/gate_calibration.py --data DIR [--size 256] [--seed 1]

DIR holds images named as in scikit-image's bundled data (`skimage/data/` inside the
scikit-image wheel: install it anywhere, e.g. `pip install --target /tmp/skim --no-deps
scikit-image`, and pass /tmp/skim/skimage/data). Only the images whose licence is stated
in scikit-image's data docstrings (CC0 or public domain) are used; each has a kind below.
Grey images are used as RGB.

Each image is made once by patch-remix and once by style-transfer (seed SEED, SIZE px), and
the result is judged again by an independent judge, the gallery's own comparisons
(`compare_images`), with thresholds the gates do not use: patch-remix passes if patch-SWD
< 2.5, SSIM < 0.8 and largest copied block < 0.35 (the limits suggested in the notes on
the offline generator); style-transfer passes if the photo's top ImageNet label is among the
look-alike's labels and SSIM < 0.8. A "false flag" is an image the gate flagged that the
judge passes; a "false accept" one the gate accepted that the judge fails. Prints one line
per image and generator, then rates per kind, and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from pipeline.lib.core.images import load_image_file, resize_long_side
from pipeline.lib.generators import LoadedPhoto
from pipeline.lib.generators.patch_remix.generator import PatchRemixGenerator
from pipeline.lib.generators.style_transfer.generator import StyleTransferGenerator
from pipeline.lib.measures.comparisons import compare_images
from pipeline.lib.site.labels import subject_kept

# file → kind; licences from scikit-image's data docstrings (CC0 or public domain)
KINDS = {
    "brick.png": "texture", "grass.png": "texture", "gravel.png": "texture",
    "text.png": "graphics", "clock_motion.png": "graphics",
    "astronaut.png": "portrait", "camera.png": "portrait", "chelsea.png": "portrait",
    "horse.png": "graphics",
    "coffee.png": "scene", "coins.png": "scene", "rocket.jpg": "scene",
    "hubble_deep_field.jpg": "science", "ihc.png": "science", "retina.jpg": "science",
    "cell.png": "science", "microaneurysms.png": "science",
}  # fmt: skip


def judge(generator: str, comparisons: dict[str, Any]) -> bool:
    if generator == "patch-remix":
        return (
            comparisons["patch_swd"] < 2.5
            and comparisons["ssim"] < 0.8
            and comparisons["largest_copied_region"] < 0.35
        )
    return bool(subject_kept(comparisons)) and comparisons["ssim"] < 0.8


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    files = [args.data / name for name in KINDS if (args.data / name).exists()]
    if not files:
        print(f"no known images in {args.data}", file=sys.stderr)
        return 2
    generators = [
        PatchRemixGenerator(work_size=args.size, output_size=args.size),
        StyleTransferGenerator(output_size=args.size),
    ]
    print(f"gate calibration: {len(files)} images, seed {args.seed}, {args.size} px", flush=True)
    tally: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for path in files:
        kind = KINDS[path.name]
        photo = resize_long_side(load_image_file(path), args.size)
        for gen in generators:
            made = gen.generate(LoadedPhoto(photo, b"", "image/png", seed=args.seed))
            accepted = bool(made.quality["accepted"])
            fair = judge(gen.name, compare_images(photo, made.image))
            t = tally[(gen.name, kind)]
            t["images"] += 1
            t["accepted"] += accepted
            t["false_flags"] += (not accepted) and fair
            t["false_accepts"] += accepted and not fair
            print(f"{gen.name:15s} {kind:9s} {path.stem:22s} "
                  f"{'accepted' if accepted else 'FLAGGED ':8s} judge {'pass' if fair else 'FAIL'}"
                  f"  {made.quality['reason'][:90]}", flush=True)  # fmt: skip
    summary: dict[str, Any] = {"images": len(files), "size": args.size, "seed": args.seed}
    for (name, kind), t in sorted(tally.items()):
        n = t["images"]
        rate = {k: f"{t[k] / n:.0%}" for k in ("accepted", "false_flags", "false_accepts")}
        print(
            f"{name:15s} {kind:9s} n={n}: accept {rate['accepted']}, "
            f"false flags {rate['false_flags']}, false accepts {rate['false_accepts']}"
        )
        summary[f"{name}.{kind}"] = {k: v for k, v in t.items()}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
