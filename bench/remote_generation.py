"""Remote generation throughput: how close a day gets to the ideal N/c × latency.

A day of N photos (the bundled sample photos, repeated) goes through the real
`generate_day` with the real OpenAI generator (edit strategy, through the `openai` SDK) at
each concurrency c, against the OpenAI imitation server answering every request after a
fixed latency. The server runs in its own process so its work does not compete with the
client for the GIL. Every request is written to the ledger of billed requests before it is
sent and completed after; every look-alike is validated, stored (PNG + JSON receipt) and
recorded in a SQLite database, as in a real day; comparisons are off (CPU work, see
bench/comparisons.py).

share_of_ideal_at_c = (N / c × latency) / measured wall time; 1.0 means no overhead.
The last line is one JSON object. Usage: python bench/remote_generation.py [--photos 24]
[--latency 2] [--concurrency 1,4,8]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import date
from multiprocessing.synchronize import Event
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for pipeline_tests.fixtures

from pipeline.lib.db import Database, InspirationImage
from pipeline.lib.generate import generate_day
from pipeline.lib.generators.budget import DailyBudget
from pipeline.lib.generators.ledger import Ledger
from pipeline.lib.generators.openai_images import (
    OpenAIImagesConfig,
    OpenAIImagesGenerator,
)
from pipeline.lib.generators.pricing import DEFAULT_PRICES, PriceTable
from pipeline.lib.sources.folder import SAMPLE_PHOTOS_DIR
from pipeline.lib.storage import LocalObjectStore
from pipeline_tests.fixtures.openai_server import TEST_API_KEY, OpenAIImitation

DAY = date(2026, 11, 20)
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")  # loopback never via a proxy


def serve(latency_s: float, port_queue: multiprocessing.Queue, stop: Event) -> None:
    with OpenAIImitation(latency_s=latency_s) as server:
        port_queue.put(server.base_url)
        stop.wait()


def seed_day(db: Database, store: LocalObjectStore, photos: int) -> list[int]:
    samples = sorted(SAMPLE_PHOTOS_DIR.glob("*.jpg"))
    ids = []
    with db.session() as session:
        for rank in range(photos):
            path = samples[rank % len(samples)]
            key = f"originals/bench/{rank}-{path.name}"
            store.put(key, path.read_bytes(), "image/jpeg")
            photo = InspirationImage(
                source="bench", source_id=f"{DAY}/{rank}-{path.stem}", day=DAY, rank=rank,
                status="stored", object_key=key, content_type="image/jpeg",
                description=path.stem.replace("-", " "),
            )  # fmt: skip
            session.add(photo)
            session.flush()
            ids.append(photo.id)
    return ids


def run_day(base_url: str, workdir: Path, photos: int, concurrency: int) -> float:
    db = Database(f"sqlite:///{workdir / 'doppel.db'}")
    db.upgrade()
    store = LocalObjectStore(workdir / "objects")
    ids = seed_day(db, store, photos)
    config = OpenAIImagesConfig(
        api_key=TEST_API_KEY,
        base_url=base_url,
        size="512x512",
        quality="low",
        timeout_s=30.0,
        max_retries=0,
    )
    ledger = Ledger(db)  # two ledger writes per request, as in a real day
    generator = OpenAIImagesGenerator(
        config,
        prices=PriceTable(DEFAULT_PRICES, unpriced_call_usd=0.25),
        budget=DailyBudget(100.0),
        ledger=ledger,
    )
    started = time.perf_counter()
    result = generate_day(
        DAY, ids, generator=generator, store=store, db=db, concurrency=concurrency,
        compare=None, ledger=ledger,
    )  # fmt: skip
    wall = time.perf_counter() - started
    generator.close()
    db.dispose()
    succeeded = result.count("succeeded")
    if succeeded != photos or result.generator_calls != photos:
        raise SystemExit(f"only {succeeded}/{photos} look-alikes at concurrency {concurrency}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--concurrency", default="1,4,8")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    ports: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.latency, ports, stop), daemon=True)
    server.start()
    figures: dict[str, float | int] = {"photos": args.photos, "latency_s": args.latency}
    try:
        base_url = ports.get(timeout=30)
        with tempfile.TemporaryDirectory() as tmp:
            for concurrency in levels:
                wall = run_day(base_url, Path(tmp) / f"c{concurrency}", args.photos, concurrency)
                ideal = args.photos / concurrency * args.latency
                share = ideal / wall
                print(
                    f"concurrency {concurrency}: {args.photos} photos in {wall:.2f} s "
                    f"(ideal {ideal:.2f} s, share of ideal {share:.3f})"
                )
                figures[f"wall_s_at_{concurrency}"] = round(wall, 3)
                figures[f"share_of_ideal_at_{concurrency}"] = round(share, 3)
    finally:
        stop.set()
        server.join(timeout=10)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
