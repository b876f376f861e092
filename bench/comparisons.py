"""How long `compare_images` takes per pair (it runs once per generation).

Pairs: each bundled sample photo with a mirrored, resized copy standing in for a look-alike
(768 px long side, like patch-remix's default output). The network's weights are read once
first (timed apart: once per process, not per pair). Run it on one core:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/comparisons.py

Prints one line per photo, then one JSON object: {"pairs", "mean_s", "max_s",
"image_stats_mean_s", "semantic_mean_s", "network_load_s", "target_s"}.
"""

from __future__ import annotations

import json
import statistics
import time

from PIL import Image

from pipeline.lib import semantic
from pipeline.lib.comparisons import compare_images
from pipeline.lib.image_stats import image_stats
from pipeline.lib.images import load_image_file, resize_long_side
from pipeline.lib.sources.folder import SAMPLE_PHOTOS_DIR

TARGET_S = 0.15  # per pair, every measure included (issue 16)


def main() -> None:
    started = time.perf_counter()
    semantic.network()
    network_load = time.perf_counter() - started
    times, stats_times, semantic_times = [], [], []
    for path in sorted(SAMPLE_PHOTOS_DIR.glob("*.jpg")):
        photo = load_image_file(path)
        lookalike = resize_long_side(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 768)
        started = time.perf_counter()
        compare_images(photo, lookalike)
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
        image_stats(photo)
        image_stats(lookalike)
        stats_times.append((time.perf_counter() - started) / 2)
        started = time.perf_counter()
        semantic.semantics(photo)
        semantic.semantics(lookalike)
        semantic_times.append(time.perf_counter() - started)
        print(
            f"{path.name}: compare {times[-1]:.3f} s, image_stats {stats_times[-1]:.4f} s, "
            f"semantic (both images) {semantic_times[-1]:.3f} s"
        )
    print(
        json.dumps(
            {
                "pairs": len(times),
                "mean_s": round(statistics.mean(times), 3),
                "max_s": round(max(times), 3),
                "image_stats_mean_s": round(statistics.mean(stats_times), 4),
                "semantic_mean_s": round(statistics.mean(semantic_times), 3),
                "network_load_s": round(network_load, 3),
                "target_s": TARGET_S,
            }
        )
    )


if __name__ == "__main__":
    main()
