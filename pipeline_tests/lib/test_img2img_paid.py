"""Pay once, for img2img too: the real generator against the imitation A1111 server with the
ledger on a real PostgreSQL database. What the server answered with 200 is what a hosted
server bills; that count stays within the per-photo cap whatever the fault."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from pipeline.lib.billing.ledger import Ledger, PaidAttemptCapReached
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.day.generate import generate_day
from pipeline.lib.db import BilledRequest, Database, Outcome, Photo
from pipeline.lib.failures import GenerationError, GeneratorUnavailable
from pipeline.lib.generators import LoadedPhoto
from pipeline.lib.generators.img2img import ROUTE, Img2ImgConfig, Img2ImgGenerator
from testbed.img2img_server import Img2ImgImitation

DAY = date(2026, 11, 20)
CAP = 2


@pytest.fixture
def server() -> Iterator[Img2ImgImitation]:
    with Img2ImgImitation(slow_s=0.6) as imitation:
        yield imitation


@pytest.fixture
def db(postgres_database: dict[str, str]) -> Iterator[Database]:
    database = Database(postgres_database["url"])
    database.upgrade()
    yield database
    database.dispose()


def jpeg(shade: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), (200, shade, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def add_photos(db: Database, store: LocalObjectStore | None, count: int) -> list[int]:
    with db.session() as session:
        photos = []
        for rank in range(count):
            key = f"originals/{DAY}/{rank}.jpg"
            if store is not None:
                store.put(key, jpeg(rank * 40), "image/jpeg")
            photo = Photo(
                source="samples", source_id=f"p{rank}", day=DAY, rank=rank,
                status="stored", object_key=key, content_type="image/jpeg",
            )  # fmt: skip
            photos.append(photo)
        session.add_all(photos)
        session.flush()
        return [p.id for p in photos]


def source(photo_id: int) -> LoadedPhoto:
    data = jpeg()
    return LoadedPhoto(
        image=Image.open(io.BytesIO(data)).convert("RGB"), data=data,
        content_type="image/jpeg", seed=4242, photo_id=photo_id,
    )  # fmt: skip


def generator(
    server: Img2ImgImitation, db: Database, sleeps: list[float] | None = None, **overrides: object
) -> Img2ImgGenerator:
    values: dict = {"base_url": server.base_url, "long_side": 128, "timeout_s": 0.3,
                    "max_reply_bytes": 512 * 1024}  # fmt: skip
    config = Img2ImgConfig(**(values | overrides))  # type: ignore[arg-type]
    delays = sleeps if sleeps is not None else []
    return Img2ImgGenerator(config, ledger=Ledger(db, max_paid_attempts=CAP), sleep=delays.append)


def ledger_rows(db: Database) -> list[BilledRequest]:
    with db.session() as session:
        return list(session.scalars(select(BilledRequest).order_by(BilledRequest.id)))


def wait_until(condition, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        ("malformed_json", "billed"),
        ("not_json", "billed"),
        ("empty_images", "billed"),
        ("broken_base64", "billed"),
        ("truncated_png", "billed"),
        ("oversized", "billed"),  # answered: over the reply cap, so not read further
        ("cut_body", "unknown"),  # the body stopped short: the answer was never read
        ("slow", "unknown"),  # the client gave up; the server finished and billed it
    ],
)
def test_a_billed_but_unusable_answer_counts_against_the_cap_and_is_not_resent(
    server: Img2ImgImitation, db: Database, fault: str, outcome: str
) -> None:
    [photo] = add_photos(db, None, 1)
    server.add_fault(fault, times=10)
    gen = generator(server, db)
    for run in (1, 2):  # two runs (or step retries), each one billed request
        with pytest.raises(GenerationError) as caught:
            gen.generate(source(photo))
        assert caught.value.outcome is Outcome.WAITING  # a later run may, within the cap
        assert len(server.requests) == run  # no immediate retry of a billed request
    with pytest.raises(PaidAttemptCapReached, match="DOPPEL_MAX_PAID_ATTEMPTS"):
        gen.generate(source(photo))
    assert len(server.requests) == CAP  # at the cap, nothing more is sent

    wait_until(lambda: all(r.finished for r in server.requests))
    assert len(server.billed) == CAP
    rows = ledger_rows(db)
    assert [(r.generator, r.endpoint, r.outcome) for r in rows] == [
        ("img2img", ROUTE, outcome)
    ] * CAP
    assert [r.paid_slot for r in rows] == [1, 2] and [r.attempt for r in rows] == [1, 2]
    assert Ledger(db, max_paid_attempts=CAP).paid_attempts(photo, "img2img") == CAP


@pytest.mark.parametrize("fault", ["server_error", "bad_gateway", "reset", "rate_limited"])
def test_a_fault_that_was_not_billed_is_retried_within_the_request(
    server: Img2ImgImitation, db: Database, fault: str
) -> None:
    [photo] = add_photos(db, None, 1)
    server.add_fault(fault)
    sleeps: list[float] = []
    result = generator(server, db, sleeps).generate(source(photo))
    assert result.image.size == (128, 64)
    assert len(server.requests) == 2 and len(server.billed) == 1
    assert len(sleeps) == 1
    if fault == "rate_limited":
        assert sleeps == [server.retry_after_s]  # Retry-After honoured
    rows = ledger_rows(db)
    assert [r.outcome for r in rows] == ["not_billed", "billed"]
    assert rows[0].paid_slot is None  # the slot was given back
    assert Ledger(db, max_paid_attempts=CAP).paid_attempts(photo, "img2img") == 1


def test_faults_that_persist_cost_no_paid_attempt(server: Img2ImgImitation, db: Database) -> None:
    [photo] = add_photos(db, None, 1)
    server.add_fault("server_error", times=100)
    gen = generator(server, db, max_retries=2)
    for _ in range(3):  # as many runs as like: none of it was billed
        with pytest.raises(GenerationError, match="none billed") as caught:
            gen.generate(source(photo))
        assert caught.value.outcome is Outcome.WAITING
    assert len(server.requests) == 9 and not server.billed
    assert {r.outcome for r in ledger_rows(db)} == {"not_billed"}
    assert Ledger(db, max_paid_attempts=CAP).paid_attempts(photo, "img2img") == 0


def test_a_priced_server_costs_its_price_per_answer_in_the_ledger_and_the_look_alikes(
    server: Img2ImgImitation, db: Database, tmp_path: Path
) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    made, unusable = add_photos(db, store, 2)
    server.add_fault("empty_images")  # answered, so billed, but no look-alike in it
    gen = generator(server, db, price_per_image_usd=0.04)
    day = generate_day(DAY, [made, unusable], generator=gen, store=store, db=db,
                       concurrency=1, ledger=gen.ledger)  # fmt: skip
    rows = ledger_rows(db)
    assert [(r.outcome, r.estimated_usd, r.cost_usd) for r in rows] == [("billed", 0.04, 0.04)] * 2
    # Each photo's look-alike (made or not) costs what its answers cost: the gallery's figure.
    assert sorted(r["cost_usd"] for r in day.rows) == [0.04, 0.04]
    assert {r["status"] for r in day.rows} == {"succeeded", "waiting"}


def test_a_refused_login_stops_the_day_and_the_next_run_sends_one_probe(
    server: Img2ImgImitation, db: Database, tmp_path: Path
) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    photos = add_photos(db, store, 6)
    server.auth = ("doppel", "right")
    gen = generator(server, db, auth=("doppel", "wrong"))
    with pytest.raises(GeneratorUnavailable, match="DOPPEL_IMG2IMG_AUTH"):
        generate_day(DAY, photos, generator=gen, store=store, db=db, concurrency=4,
                     ledger=gen.ledger)  # fmt: skip
    first = len(server.requests)
    assert 1 <= first <= 4  # at most what was in flight; the rest never started
    assert {r.status for r in server.requests} == {401}  # and none retried
    assert {r.outcome for r in ledger_rows(db)} == {"rejected"}
    assert gen.ledger is not None and gen.ledger.last_stop("img2img") is not None

    with pytest.raises(GeneratorUnavailable):
        generate_day(DAY, photos, generator=gen, store=store, db=db, concurrency=4,
                     ledger=gen.ledger)  # fmt: skip
    assert len(server.requests) == first + 1  # one probe, then the day stops again


@pytest.mark.slow
def test_a_killed_process_leaves_an_outcome_unknown_row_counted_as_billed(
    server: Img2ImgImitation, db: Database, postgres_database: dict[str, str]
) -> None:
    [photo] = add_photos(db, None, 1)
    server.stall_s = 2.0  # the GPU is busy: the kill lands while the request is in flight
    # Only what the request needs is imported: the child should reach the server quickly.
    script = (
        "import io, sys\n"
        "from PIL import Image\n"
        "from pipeline.lib.db import Database\n"
        "from pipeline.lib.generators import LoadedPhoto\n"
        "from pipeline.lib.generators.img2img import Img2ImgConfig, Img2ImgGenerator\n"
        "from pipeline.lib.billing.ledger import Ledger\n"
        "data = io.BytesIO()\n"
        "Image.new('RGB', (120, 80)).save(data, 'JPEG')\n"
        "photo = LoadedPhoto(Image.new('RGB', (120, 80)), data.getvalue(), 'image/jpeg', 1,\n"
        "                    photo_id=int(sys.argv[3]))\n"
        "config = Img2ImgConfig(base_url=sys.argv[2], long_side=128, timeout_s=30)\n"
        "Img2ImgGenerator(config, ledger=Ledger(Database(sys.argv[1]))).generate(photo)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, postgres_database["url"], server.base_url, str(photo)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until(lambda: len(server.requests) == 1 or process.poll() is not None, 30)
        assert process.poll() is None, process.communicate()[0].decode()
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    [row] = ledger_rows(db)
    assert (row.outcome, row.paid_slot, row.completed_at) == ("pending", 1, None)
    ledger = Ledger(db, max_paid_attempts=1)
    # Counted as billed: the server may finish it.
    assert ledger.paid_attempts(photo, "img2img") == 1

    server.stall_s = 0.0
    gen = Img2ImgGenerator(Img2ImgConfig(base_url=server.base_url, long_side=128), ledger=ledger)
    with pytest.raises(PaidAttemptCapReached):  # with a cap of 1, nothing more is sent
        gen.generate(source(photo))
    wait_until(lambda: server.requests[0].finished)
    assert len(server.requests) == 1 and len(server.billed) == 1
