"""Gallery build at scale: N synthetic pairs (default 10,000; issue 28: 100,000), then one
more day, in this process and as a fresh `doppel gallery` process.

What is synthesised (not timed): day tables in the layout the IO manager writes
(`tables/<asset>/<day>.json`), with plausible comparisons (both images' stats, palettes), and
one small distinct PNG look-alike per pair (96 × 64 px) in a local object store
(`--data DIR` keeps it, and reuses it next time: 100,000 pairs take minutes to make).
The photos are Unsplash photos, as in a deployment: the gallery hotlinks them, so the builder
makes no copy of them; `--bundled-share` turns a share of them into bundled photos, whose
stored originals the builder does copy (as WebP), to measure that work too.

What is timed, each a `publish_gallery` as `gallery_site` and `doppel gallery` run it (the
settings' target, the database's lock):
- full_build_s: into an empty site: every page rendered, every look-alike decoded and
  encoded as WebP, every file written (local store: temp file + rename per file);
- rebuild_s: the same site built again with force=True (no manifest trusted): every page
  rendered and published again, every image copy found published under its source's
  SHA-256 and taken as it is (what a rebuild after a template change costs, and more: a
  template change keeps the manifest, so its copies are not even looked up);
- one_day_s: one more day's tables and images are added, then a build again;
- noop_s: a build again with nothing new;
- one_day_fresh_s: one more day, built by `doppel gallery` in a new process (imports
  included), wall time from start to exit.
full_build_cpu_s (rebuild_cpu_s) is the CPU time the full build (the rebuild) used (all
threads and worker processes): on a busy machine it says more than the wall time.
peak_rss_mb: the largest resident size of this process and of the largest render worker.
largest_file_kb: the largest page, feed or script a browser loads (images aside).
The last line is one JSON object.

Where the time went (cProfile, 20,000 pairs, one new day, load 11-15 on 2 cores): before,
10.9 s, all of it growing with the history: the one manifest's JSON parsed (2.1 s) and
written (1.1 s), every image copy's record checked (2.9 s), every table listed, read and
hashed (1.8 s), every page's input digest computed (0.8 s), stats charted from every day
(0.8 s). After (manifest by month, table versions from the listing, month summaries): 1.2 s,
of which 0.42 s compiling the templates, 0.34 s rendering the new day and its neighbour,
0.14 s listing the tables; nothing else above 0.14 s.

A full build is image copies and rendering (10,000 pairs in one process, load 6-10): 28 s
of CPU, of which the look-alikes' WebP copies 14 s (1.4 ms each: encoding 0.6 ms, writing
the file 0.25 ms, reading and decoding 0.2 ms), rendering 7.3 s (0.66 ms a page: the pair
template 0.27 ms, its model 0.18 ms), the manifest 2.9 s, loading the days 1 s. Until
2026-12-07 every copy was made first, in the main process alone (on about one core: the
Python part of each copy holds the GIL), and only then were pages rendered; now each day's
copies were made just before its pages went to the render workers, so encoding overlapped
rendering: 10,050 pairs, full builds alternating with the code before (load 8-10):
33.5-37.3 s -> 26.6-27.2 s wall, the same ~25 s of CPU; 100,000 pairs 417 s (load 15-19)
-> 303-324 s (load 10-12). But the main process still did every copy's decoding and
encoding, and was the busy one (10,050 pairs: 14.5 s of CPU against the workers' 6.6 s), so
about one core worked. Now the render workers make each day's copies with its pages (the
main process reads the days and the images, plans, and publishes): 10,050 pairs at load
7, main 14.5 -> 6.0 s of CPU, workers 6.6 -> 13.3 s, the same ~20 s in all; 100,000 pairs
303 s wall / 266 s CPU (load 10-12) -> 125 s / 219 s (load 6 falling to 2.5; 179-232 s,
229-243 s CPU in two runs at load 3-9). A forced rebuild (every page rendered and published
again; every copy found published under its source's SHA-256, not made): 102 s wall, 151 s
of CPU (143-144 s, 154-160 s at load 7-9). At ~2.2-2.4 ms of CPU a pair in all, 60 s for
100,000 pairs on 2 cores (~1.2 ms a pair) is still out of reach: the WebP encoding (0.6 ms,
fixed while the copies must stay byte-identical) and rendering a pair page (0.66 ms) are
already above it, before reading, decoding and publishing two files.

One new day as a fresh `doppel gallery` (100,000 pairs, load 4-12): 0.77-1.04 s of CPU,
about 0.5 s of it the process's start and imports (no SQLAlchemy, Dagster, pandas, openai or
boto3; before: 1.26 s, with SQLAlchemy's ORM for the lock, the day tables and the img2img
settings' billing; httpx stays, its URL parser reads the CSP's origins), the rest the build:
listing the 20,000 tables with their versions 0.17 s, the main manifest (every day's
version) 0.13 s, the day's pages and their neighbours' 0.08 s, the pages made from every
month 0.07 s.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pipeline.defs.names import DAY_TABLES
from pipeline.lib.core.storage import LocalObjectStore, ObjectStore, write_atomically
from pipeline.lib.day.tables import LOOK_ALIKES, PHOTOS, encode_table, table
from pipeline.lib.db import Database
from pipeline.lib.settings import load_settings
from pipeline.lib.site.build import SiteBuild
from pipeline.lib.site.gallery import gallery_target, open_store, publish_gallery

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


def write_day(store: ObjectStore, day: str, first_id: int, count: int, bundled: float,
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


class QuickStore(LocalObjectStore):
    """The local store without an fsync per file: synthesis only (100,000 pairs are 220,000
    files), the builds read and write through the ordinary store."""

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        write_atomically(self.path(key), data, durable=False)


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the render workers)."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _children_cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def _largest_file(site: Path) -> tuple[str, float]:
    """The largest file a browser loads (pages, feed, styles, scripts; not images)."""
    sizes = (
        (p.stat().st_size, p.relative_to(site).as_posix())
        for p in site.rglob("*")
        if p.suffix in {".html", ".xml", ".css", ".js"} and p.is_file()
    )
    size, name = max(sizes)
    return name, size / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--per-day", type=int, default=10)
    parser.add_argument("--bundled-share", type=float, default=0.0)
    parser.add_argument("--data", type=Path, help="keep the synthesised data here (and reuse it)")
    args = parser.parse_args()

    data_dir = args.data or Path(tempfile.mkdtemp(prefix="doppel-site-bench-"))
    root = data_dir / "objects"  # DOPPEL_DATA_DIR's store, as `doppel gallery` opens it
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOPPEL_")}
    os.environ.clear()
    os.environ.update(env | {"DOPPEL_DATA_DIR": str(data_dir)})
    settings = load_settings()
    store, target = open_store(settings), gallery_target(settings)
    db = Database(settings.resolved_database_url)
    days = args.pairs // args.per_day
    rng = random.Random(7)
    started = time.perf_counter()
    quick = QuickStore(root)
    made = 0
    for d in range(days):
        day = (START + timedelta(days=d)).isoformat()
        if not quick.exists(DAY_TABLES.key(LOOK_ALIKES, day)):
            write_day(quick, day, d * args.per_day + 1, args.per_day, args.bundled_share, rng)
            made += 1
    print(f"synthesised {made} of {days} days × {args.per_day} pairs in "
          f"{time.perf_counter() - started:.1f} s under {root}")  # fmt: skip

    def add_day(n: int) -> None:
        day = (START + timedelta(days=n)).isoformat()
        write_day(store, day, n * args.per_day + 1, args.per_day, args.bundled_share, rng)

    def build(force: bool = False) -> SiteBuild:
        return publish_gallery(store, target, db, tables=DAY_TABLES, force=force)

    site = root / target.prefix
    try:
        shutil.rmtree(site, ignore_errors=True)  # the full build starts from nothing
        for n in range(days, days + 2):  # days the last run added
            shutil.rmtree(root / "generated" / (START + timedelta(days=n)).isoformat(), True)
            for schema in (PHOTOS, LOOK_ALIKES):
                store.delete(DAY_TABLES.key(schema, (START + timedelta(days=n)).isoformat()))
        cpu = _cpu_seconds()
        full = build()
        full_cpu = _cpu_seconds() - cpu
        print(f"full build:  {full.summary()}")
        cpu = _cpu_seconds()
        rebuild = build(force=True)
        rebuild_cpu = _cpu_seconds() - cpu
        print(f"rebuild:     {rebuild.summary()}")
        add_day(days)
        one = build()
        print(f"one day:     {one.summary()}")
        noop = build()
        print(f"no change:   {noop.summary()}")
        add_day(days + 1)
        began, cpu = time.perf_counter(), _children_cpu()
        fresh = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "gallery"], cwd=data_dir, env=os.environ,
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        fresh_s, fresh_cpu = time.perf_counter() - began, _children_cpu() - cpu
        print(f"fresh doppel gallery, one day: {fresh_s:.2f} s ({fresh_cpu:.2f} s CPU): "
              f"{fresh.stdout.splitlines()[0]}")  # fmt: skip
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        largest, largest_kb = _largest_file(site)
        index_kb = (site / "index.html").stat().st_size / 1024
        pages = sum(1 for _ in site.rglob("*.html"))
        print(json.dumps({
            "pairs": full.pairs, "days": full.days, "pages": pages,
            "full_build_s": full.seconds, "full_build_cpu_s": round(full_cpu, 1),
            "rebuild_s": rebuild.seconds, "rebuild_cpu_s": round(rebuild_cpu, 1),
            "one_day_s": one.seconds, "noop_s": noop.seconds,
            "one_day_fresh_s": round(fresh_s, 2), "one_day_fresh_cpu_s": round(fresh_cpu, 2),
            "peak_rss_mb": round(own), "peak_rss_worker_mb": round(worker),
            "index_kb": round(index_kb, 1), "largest_file": largest,
            "largest_file_kb": round(largest_kb, 1), "images_made_full": full.media.made,
            "files_written_one_day": one.files.written, "load": os.getloadavg()[0],
        }))  # fmt: skip
    finally:
        db.dispose()
        if args.data is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
