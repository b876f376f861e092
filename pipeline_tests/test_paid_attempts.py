"""Pay once: every fault of the Images API, through the real asset and SDK against the
imitation server, counted on the server's side (what it answered with 200 is billed, even
when it finished after the client gave up). Each fault gets two full runs, then a run that
is killed with SIGKILL in the middle of its requests, then one more run. Dagster's step
retry policy stays on: nothing here may be repeated by it. The kill (a process of its own, the
costliest part) is taken for one fault of each kind; the others run a third time in process."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select

from pipeline.defs.limits import API_STEP_RETRY
from pipeline.lib.billing.pricing import DEFAULT_PRICES, PriceTable
from pipeline.lib.db import BilledRequest, Database
from pipeline.lib.settings import DoppelSettings, load_settings
from pipeline_tests.conftest import migrated
from pipeline_tests.fixtures import materialize_day
from pipeline_tests.test_openai_generated_images import (
    DAY,
    EDITS,
    rows_by_photo,
    small_photos,
)
from pipeline_tests.test_openai_generated_images import materialize as materialize_once
from testbed.openai_server import TEST_API_KEY, OpenAIImitation

PRICES = PriceTable(DEFAULT_PRICES, unpriced_call_usd=0.25)
CAP = 3  # room for two full runs and the killed one
# fault -> does the server bill it (answer 200)?
FAULTS = {
    "malformed_json": True,  # a 200 whose JSON is cut off
    "cut_body": True,  # a 200 whose body stops short of its Content-Length
    "not_json": True,  # a 200 text/html
    "empty_data": True,
    "broken_base64": True,
    "truncated_png": True,
    "slow": True,  # finished and billed after the client timed out
    "reset": False,
    "rate_limited": False,
    "bad_gateway": False,
}
# The kill lands while the server holds the requests, before the fault is answered, so what it
# tests differs only by kind: billed in full, billed after the client gave up, never billed.
KILLED = {"malformed_json", "slow", "reset"}
NAMES = ("boat", "tiger", "lake", "forest")  # small_photos' photos


def materialize(settings: DoppelSettings, **kwargs: Any) -> dg.ExecuteInProcessResult:
    """With the production step retry: nothing it repeats may be paid twice."""
    return materialize_once(settings, step_retry=API_STEP_RETRY, **kwargs)


def paid_env(tmp_path: Path, server: OpenAIImitation, **extra: str) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": TEST_API_KEY,
        "DOPPEL_DATA_DIR": str(tmp_path / "data"),
        "DOPPEL_SOURCE": "folder",
        "DOPPEL_FOLDER": str(small_photos(tmp_path / "photos")),
        "DOPPEL_GENERATOR": "openai",
        "DOPPEL_OPENAI_BASE_URL": server.base_url,
        "DOPPEL_OPENAI_SIZE": "128x128",
        "DOPPEL_OPENAI_QUALITY": "low",
        # Generous: a loaded machine must not turn a 0.2 s answer into a timeout (which
        # counts as paid); the "slow" fault sets its own short one.
        "DOPPEL_OPENAI_TIMEOUT_S": "10",
        "DOPPEL_OPENAI_MAX_RETRIES": "1",
        "DOPPEL_MAX_PAID_ATTEMPTS": str(CAP),
        "DOPPEL_GAP_RETRY_AFTER_MINUTES": "0",  # every run may ask a waiting photo again
        **extra,
    }


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> DoppelSettings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return migrated(load_settings(_env_file=None))


def photo_of(request: Any) -> str:
    prompt = request.params.get("prompt", "")
    [name] = [n for n in NAMES if f"a {n}." in prompt]
    return name


def expected_cost(request: Any, fault: str) -> float:
    """What the ledger should count for a request the server billed: the price of the
    usage the client read, or the estimate when it could read none."""
    prompt = request.params["prompt"]
    if fault in ("empty_data", "broken_base64", "truncated_png"):
        text = len(prompt) // 4 + 1
        usage = {"input_tokens": text + 1000,
                 "input_tokens_details": {"text_tokens": text, "image_tokens": 1000},
                 "output_tokens": 4, "output_tokens_details": {"image_tokens": 4}}  # fmt: skip
        cost = PRICES.image_cost("gpt-image-2", quality="low", size="128x128", usage=usage)
        assert cost is not None
        return cost
    return PRICES.estimate_image(
        "gpt-image-2", quality="low", size="128x128", prompt=prompt, input_fidelity="low"
    )


def ledger_rows(settings: DoppelSettings) -> list[BilledRequest]:
    db = Database(settings.resolved_database_url)
    with db.session() as session:
        rows = list(session.scalars(select(BilledRequest).order_by(BilledRequest.id)))
    db.dispose()
    return rows


def killed_mid_request(env: dict[str, str], server: OpenAIImitation, tmp_path: Path) -> None:
    """Run the day in another process and SIGKILL it once all its requests are in flight."""
    before = len(server.requests_to(EDITS))
    server.stall_s = 1.5  # the server holds each request; the kill lands in the middle
    log = tmp_path / "killed.log"
    process = materialize_day.start(DAY, env, log)
    try:
        deadline = time.monotonic() + 60
        while len(server.requests_to(EDITS)) < before + 4 and process.is_alive():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        assert process.is_alive(), log.read_text()  # killed in the middle, not after
        process.kill()  # SIGKILL
    finally:
        process.join(timeout=30)
        server.stall_s = 0.0
    assert process.exitcode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_is_paid_for_at_most_the_cap_per_photo(
    fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OpenAIImitation(slow_s=2.0, retry_after=0.0) as server:
        server.add_fault(fault, times=10_000, path=EDITS)
        env = paid_env(tmp_path, server, DOPPEL_OPENAI_TIMEOUT_S="1.5")  # < slow_s
        settings = settings_from(env, monkeypatch)

        for _ in range(2):
            result = materialize(settings)
            assert result.success  # the day is made: its photos wait for a retry
            assert {r.status for r in rows_by_photo(settings).values()} == {"waiting"}
            assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
        billed = server.billed()
        # No step retry, no immediate retry of anything billed: one paid request per photo
        # per run; the faults that bill nothing were retried within the request only.
        per_photo = Counter(photo_of(r) for r in billed)
        assert per_photo == (Counter(dict.fromkeys(NAMES, 2)) if FAULTS[fault] else Counter())
        if not FAULTS[fault]:
            assert len(server.requests_to(EDITS)) == 4 * 2 * 2  # 2 tries, 2 runs
        rows = ledger_rows(settings)
        spent = sum(r.cost_usd or 0 for r in rows)
        assert spent == pytest.approx(sum(expected_cost(r, fault) for r in billed), abs=1e-6)
        costs = {name: row.cost_usd or 0 for name, row in rows_by_photo(settings).items()}
        assert sum(costs.values()) == pytest.approx(spent, abs=1e-6)  # failed rows show cost

        if fault in KILLED:
            killed_mid_request(env, server, tmp_path)
        else:
            assert materialize(settings).success
        result = materialize(settings)
        # At its paid cap, or after three failures in a row, a photo has failed for good: its
        # check says which and why, and only `doppel retry` sends them again.
        assert result.success
        assert {r.status for r in rows_by_photo(settings).values()} == {"failed"}
        billed = server.billed()
        assert max(Counter(photo_of(r) for r in billed).values(), default=0) <= CAP
        rows = ledger_rows(settings)
        assert all(r.outcome != "pending" or r.completed_at is None for r in rows)
        # A killed request is counted as billed whether or not the server finished it: the
        # ledger may count more than the server billed, never less.
        assert sum(r.cost_usd or r.estimated_usd for r in rows if r.outcome != "not_billed") >= (
            sum(expected_cost(r, fault) for r in billed) - 1e-6
        )
        if FAULTS[fault]:
            # Run 1, run 2, the killed (or third) run: the cap; the last run sent nothing.
            assert Counter(photo_of(r) for r in billed) == Counter(dict.fromkeys(NAMES, CAP))
            assert len(server.requests_to(EDITS)) == 4 * CAP
            errors = [r.error or "" for r in rows_by_photo(settings).values()]
            if fault in KILLED:  # the killed run's requests are settled at the cap
                cap = f"stopped after {CAP} paid attempts (the cap is {CAP}"
                assert {e.split(";")[0] for e in errors} == {f"{cap}, DOPPEL_MAX_PAID_ATTEMPTS)"}
            else:  # the third failure, in a row and at the cap, ended it
                assert all("(3 failures in a row; `doppel retry" in e for e in errors), errors
        else:  # not billed, so under the paid cap: three failures in a row
            assert all("(3 failures in a row; `doppel retry" in (r.error or "")
                       for r in rows_by_photo(settings).values())  # fmt: skip


def eight_photos(folder: Path) -> Path:
    import json

    from PIL import Image

    folder.mkdir()
    entries = []
    for i in range(8):
        Image.new("RGB", (80, 64), (30 * i, 200 - 20 * i, 90)).save(folder / f"p{i}.jpg")
        entries.append({"id": f"p{i}", "file": f"p{i}.jpg", "description": f"photo number {i}"})
    (folder / "photos.json").write_text(json.dumps(entries))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["insufficient_quota", "unauthorized"])
def test_a_permanent_refusal_stops_the_day_and_a_rerun_sends_one_probe(
    fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OpenAIImitation() as server:
        server.latency_s = 0.2  # the first four are in flight together
        server.add_fault(fault, times=10_000, path=EDITS)
        env = paid_env(
            tmp_path, server, DOPPEL_FOLDER=str(eight_photos(tmp_path / "eight")),
            DOPPEL_PHOTOS_PER_DAY="8", DOPPEL_GENERATION_CONCURRENCY="4",
        )  # fmt: skip
        settings = settings_from(env, monkeypatch)
        first = materialize(settings)
        assert not first.success
        assert 1 <= len(server.requests_to(EDITS)) <= 4  # at most what was already in flight
        [failure] = [e for e in first.get_step_failure_events() if "generated" in e.step_key]
        assert "cannot take requests" in failure.step_failure_data.error.message  # type: ignore[union-attr]
        assert not [e for e in first.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]

        for _ in range(2):  # a re-run (or the sensor's probe once its wait has passed)
            server.clear()
            server.add_fault(fault, times=10_000, path=EDITS)
            assert not materialize(settings).success
            assert len(server.requests_to(EDITS)) == 1

        server.clear()  # the key is fixed / credit added: the probe succeeds, then the rest
        assert materialize(settings).success
        assert len(server.requests_to(EDITS)) == 8
        assert server.billed() and len(server.billed()) == 8


@pytest.mark.slow
def test_doppel_retry_lifts_the_cap_for_a_photo_and_the_ledger_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.cli import main

    with OpenAIImitation() as server:
        server.add_fault("empty_data", times=10_000, path=EDITS)
        env = paid_env(tmp_path, server, DOPPEL_MAX_PAID_ATTEMPTS="1")
        settings = settings_from(env, monkeypatch)
        assert materialize(settings).success
        # A billed failure that used the photo's only paid attempt: failed for good.
        assert {r.status for r in rows_by_photo(settings).values()} == {"failed"}
        assert materialize(settings).success  # nothing sent
        assert len(server.requests_to(EDITS)) == 4

        assert main(["retry", DAY, "--photo", f"{DAY}/boat"]) == 0
        assert main(["retry", DAY, "--photo", "no-such-photo"]) == 2
        server.clear()
        materialize(settings)
        assert [photo_of(r) for r in server.requests_to(EDITS)] == ["boat"]
        lifted = [r for r in ledger_rows(settings) if r.kind == "cap_lifted"]
        assert [r.detail for r in lifted] == [f"doppel retry {DAY} --photo {DAY}/boat"]


@pytest.mark.slow
def test_two_processes_on_the_same_day_never_exceed_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_database: dict[str, str]
) -> None:
    with OpenAIImitation() as server:
        server.latency_s = 0.3  # both processes' requests overlap
        server.add_fault("empty_data", times=10_000, path=EDITS)  # billed, never usable
        env = paid_env(tmp_path, server, DOPPEL_DATABASE_URL=postgres_database["url"],
                       DOPPEL_MAX_PAID_ATTEMPTS="1")  # fmt: skip
        settings = settings_from(env, monkeypatch)
        assert materialize(settings, selection=["unsplash_images"]).success
        for round_ in range(2):  # two rounds of two processes racing for each photo's one slot
            processes = [
                materialize_day.start(DAY, env, tmp_path / f"race{round_}{i}.log", True)
                for i in range(2)
            ]
            for process in processes:
                process.join(timeout=120)
            # Both end the day: one made each photo (failed for good, its one paid attempt
            # used), the other left it to that one and read its outcome.
            assert [p.exitcode for p in processes] == [0, 0]
        per_photo = Counter(photo_of(r) for r in server.billed())
        assert per_photo == Counter(dict.fromkeys(NAMES, 1))
        rows = [r for r in ledger_rows(settings) if r.outcome != "not_billed"]
        assert sorted(Counter(r.photo_id for r in rows).values()) == [1, 1, 1, 1]
