"""Gallery build at scale: 10,000 synthetic pairs, then one more day.

What is synthesised (not timed): day tables in the layout the IO manager writes
(`tables/<asset>/<day>.json`), with plausible comparisons (both images' stats, palettes), and
one small distinct PNG look-alike per pair (96 × 64 px) in a temporary local object store.
The photos are Unsplash photos, as in a deployment: the gallery hotlinks them, so the builder
makes no copy of them; `--bundled-share` turns a share of them into bundled photos, whose
stored originals the builder does copy (as WebP), to measure that work too.

What is timed:
- full_build_s: `build_site` into an empty site prefix: every page rendered, every
  look-alike decoded and encoded as WebP, every file written (local store: temp file + fsync
  + rename per file);
- one_day_s: one more day's tables and images are added, then `build_site` again;
- noop_s: `build_site` again with nothing new.
full_build_cpu_s is the CPU time the full build used (all threads and worker processes): on a
busy machine it says more than the wall time. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import resource
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pipeline.defs.names import DAY_TABLES
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.day.tables import LOOK_ALIKES, PHOTOS, encode_table, table
from pipeline.lib.site import build_site

START = date(2024, 1, 1)
W, H = 96, 64


def tiny_png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W]
    a, b, c = rng.integers(0, 256, 3)
    arr = np.stack([(x * 2 + a) % 256, (y * 3 + b) % 256, (x + y + c) % 256], axis=2)
    cx, cy, r = rng.integers(10, W - 10), rng.integers(10, H - 10), rng.integers(6, 20)
    arr[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.integers(0, 256, 3)
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def image_stats(rng: random.Random) -> dict[str, Any]:
    shares = sorted((rng.random() for _ in range(5)), reverse=True)
    total = sum(shares)
    return {
        "brightness": round(rng.uniform(0.1, 0.9), 4),
        "contrast": round(rng.uniform(0.05, 0.35), 4),
        "colourfulness": round(rng.uniform(5, 110), 2),
        "entropy": round(rng.uniform(4, 7.9), 3),
        "dominant_colours": [
            {"hex": f"#{rng.randrange(0x1000000):06x}", "share": round(s / total, 3)}
            for s in shares
        ],
        "phash": f"{rng.getrandbits(64):016x}",
    }


def write_day(store: LocalObjectStore, day: str, first_id: int, count: int, bundled: float,
              rng: random.Random) -> None:  # fmt: skip
    photos, generations = [], []
    for n in range(count):
        pid = first_id + n
        is_bundled = rng.random() < bundled
        photo: dict[str, Any] = {
            "id": pid, "source": "samples" if is_bundled else "unsplash",
            "source_id": f"photo{pid:07d}", "day": day, "rank": n + 1, "status": "stored",
            "error": None, "title": f"Synthetic photo number {pid}",
            "description": f"A generated test scene, number {pid}, with a circle on a gradient",
            "width": 6000, "height": 4000, "likes": rng.randrange(1000),
            "published_at": f"{day}T09:00:00+00:00",
            "photographer_name": f"Photographer {pid % 997}",
            "photographer_url": None, "page_url": None, "display_url": None,
            "license": "CC0 1.0", "credit": {}, "object_key": None, "content_type": "image/png",
            "sha256": None,
        }  # fmt: skip
        if is_bundled:
            data = tiny_png(10_000_000 + pid)
            key = f"originals/{pid:07d}.png"
            store.put(key, data)
            photo.update(object_key=key, sha256=hashlib.sha256(data).hexdigest(),
                         width=W, height=H)  # fmt: skip
        else:
            user = f"user{pid % 997}"
            utm = "utm_source=doppel&utm_medium=referral"
            url = f"https://images.unsplash.com/photo-{pid}?ixid=BENCH&fm=jpg&q=80&w=1080&fit=max"
            photo.update(
                display_url=url, license="Unsplash License",
                credit={"provider": "unsplash", "name": photo["photographer_name"],
                        "username": user, "profile_url": f"https://unsplash.com/@{user}?{utm}",
                        "unsplash_url": f"https://unsplash.com/?{utm}",
                        "photo_page_url": f"https://unsplash.com/photos/{pid}?{utm}",
                        "thumb_url": url.replace("w=1080", "w=400")},
            )  # fmt: skip
        photos.append(photo)
        data = tiny_png(pid)
        key = f"generated/{day}/{pid}-photo{pid:07d}.png"
        store.put(key, data)
        generations.append({
            "photo_id": pid, "source_id": photo["source_id"], "status": "succeeded",
            "retryable": False, "error": None, "attempts": 1, "generator": "patch-remix",
            "model": "patch-remix-v1", "strategy": "patch nearest-neighbour remix",
            "prompt": None, "seed": pid, "object_key": key, "content_type": "image/png",
            "width": W, "height": H, "sha256": hashlib.sha256(data).hexdigest(),
            "cost_usd": 0.0, "latency_s": round(rng.uniform(5, 40), 2), "request_id": None,
            "usage": None, "quality": {"accepted": rng.random() > 0.05},
            "comparisons": {
                "ssim": round(rng.uniform(0.05, 0.8), 4),
                "colour_distance": round(rng.uniform(0.005, 0.15), 5),
                "patch_swd": round(rng.uniform(0.5, 6), 3),
                "zero_shift": round(rng.uniform(0, 0.2), 4),
                "largest_copied_region": round(rng.uniform(0, 0.3), 4),
                "phash_distance": rng.randrange(10, 40),
                "original": image_stats(rng), "generated": image_stats(rng),
            },
        })  # fmt: skip
    for schema, rows in ((PHOTOS, photos), (LOOK_ALIKES, generations)):
        data = encode_table(table(schema, day, rows))
        store.put(DAY_TABLES.key(schema, day), data, "application/json")


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the render workers)."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--per-day", type=int, default=10)
    parser.add_argument("--bundled-share", type=float, default=0.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary store")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="doppel-site-bench-"))
    store = LocalObjectStore(root)
    rng = random.Random(7)
    days = args.pairs // args.per_day
    started = time.perf_counter()
    for d in range(days):
        day = (START + timedelta(days=d)).isoformat()
        write_day(store, day, d * args.per_day + 1, args.per_day, args.bundled_share, rng)
    print(f"synthesised {days} days × {args.per_day} pairs in {time.perf_counter() - started:.1f} s"
          f" under {root}")  # fmt: skip

    try:
        cpu = _cpu_seconds()
        full = build_site(store, tables=DAY_TABLES)
        full_cpu = _cpu_seconds() - cpu
        print(f"full build:  {full.summary()}")
        new_day = (START + timedelta(days=days)).isoformat()
        write_day(store, new_day, days * args.per_day + 1, args.per_day, args.bundled_share, rng)
        one = build_site(store, tables=DAY_TABLES)
        print(f"one day:     {one.summary()}")
        noop = build_site(store, tables=DAY_TABLES)
        print(f"no change:   {noop.summary()}")
        index_kb = (root / "site" / "index.html").stat().st_size / 1024
        pages = sum(1 for _ in (root / "site").rglob("*.html"))
        print(json.dumps({
            "pairs": full.pairs, "days": full.days, "pages": pages,
            "full_build_s": full.seconds, "full_build_cpu_s": round(full_cpu, 1),
            "one_day_s": one.seconds, "noop_s": noop.seconds,
            "index_kb": round(index_kb, 1), "images_made_full": full.media.made,
            "files_written_one_day": one.files.written,
        }))  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
