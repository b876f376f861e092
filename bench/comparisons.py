"""How long `compare_images` takes per pair (it runs once per generation).

Pairs: each bundled sample photo with a mirrored, resized copy standing in for a look-alike
(768 px long side, like patch-remix's default output). Prints one line per photo, then one
JSON object: {"pairs", "mean_s", "max_s", "image_stats_mean_s"}.
"""

from __future__ import annotations

import json
import statistics
import time

from PIL import Image

from pipeline.lib.comparisons import compare_images
from pipeline.lib.image_stats import image_stats
from pipeline.lib.images import load_image_file, resize_long_side
from pipeline.lib.sources.folder import SAMPLE_PHOTOS_DIR


def main() -> None:
    times, stats_times = [], []
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
        print(f"{path.name}: compare {times[-1]:.3f} s, image_stats {stats_times[-1]:.4f} s")
    print(
        json.dumps(
            {
                "pairs": len(times),
                "mean_s": round(statistics.mean(times), 3),
                "max_s": round(max(times), 3),
                "image_stats_mean_s": round(statistics.mean(stats_times), 4),
            }
        )
    )


if __name__ == "__main__":
    main()
