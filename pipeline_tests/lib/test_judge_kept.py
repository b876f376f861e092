"""The judge's verdicts stay put: an image is judged once, when it is new, and keeps that
verdict, so a new day changes the pages of that day alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.findings.features import LOOK_ALIKE, PHOTO, WIDTH
from pipeline.lib.findings.judge import MAX_FOLDS, Verdicts, day_folds, judge
from pipeline.lib.findings.kept import VERDICTS_KEY, encode_kept, keep, read_kept
from pipeline.lib.findings.table import findings_frame
from pipeline.lib.site.findings import verdicts as shown_verdicts

PAIRS_PER_DAY = 12
GENERATOR = "patch-remix"


def _day(d: int, look_sha: str = "a") -> tuple[pd.DataFrame, np.ndarray]:
    """Day `d`'s images and features: photos and look-alikes a little apart, so the judge
    learns something and its probabilities depend on what it trained on."""
    rng = np.random.default_rng(d)
    day = f"2026-11-{d + 1:02d}"
    rows, vectors = [], []
    for p in range(PAIRS_PER_DAY):
        photo_id = d * 100 + p
        photo = rng.normal(size=WIDTH)
        rows.append({"day": day, "kind": PHOTO, "photo_id": photo_id, "generator": "",
                     "sha": f"photo-{photo_id}"})  # fmt: skip
        rows.append({"day": day, "kind": LOOK_ALIKE, "photo_id": photo_id,
                     "generator": GENERATOR, "sha": f"{look_sha}-{photo_id}"})  # fmt: skip
        vectors += [photo, photo * 0.5 + rng.normal(size=WIDTH) + 0.3]
    return pd.DataFrame(rows), np.array(vectors, dtype=np.float16)


def _days(*parts: tuple[pd.DataFrame, np.ndarray]) -> tuple[pd.DataFrame, np.ndarray]:
    return (
        pd.concat([p[0] for p in parts], ignore_index=True),
        np.concatenate([p[1] for p in parts]),
    )


def _run(store: LocalObjectStore, images: pd.DataFrame, matrix: np.ndarray) -> Verdicts:
    """What machine_judge does: judge with the kept verdicts, then keep the new ones."""
    verdicts = judge(images, matrix, kept=read_kept(store), max_train=40)
    verdicts.images, _ = keep(store, verdicts.images, verdicts.keys)
    return verdicts


def _by_image(verdicts: Verdicts, column: str = "p_photo") -> pd.Series:
    frame = verdicts.images
    return frame.set_index(["day", "kind", "photo_id", "generator"])[column]


@pytest.fixture(autouse=True, scope="module")
def _scikit_learn() -> None:
    """scikit-learn's import once per module, before any test's clock starts."""
    import sklearn.decomposition
    import sklearn.linear_model  # noqa: F401


def test_a_new_day_leaves_every_earlier_verdict_and_judges_its_own(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    three = [_day(d) for d in range(3)]
    first = _run(store, *_days(*three))
    assert first.images["new"].all() and first.images["p_photo"].notna().all()
    second = _run(store, *_days(*three, _day(3)))

    before, after = _by_image(first), _by_image(second)
    assert after.loc[before.index].equals(before)  # exactly, not to a rounding
    fresh = second.images[second.images["day"] == "2026-11-04"]
    assert len(fresh) == 2 * PAIRS_PER_DAY and fresh["new"].all()
    assert fresh["p_photo"].notna().all() and fresh["p_photo"].equals(fresh["p_now"])
    assert not second.images.loc[second.images["day"] != "2026-11-04", "new"].any()
    # Retrained on the new day, the judge would have said otherwise of the earlier images:
    # what keeps their verdicts is the store, not a judge that happens to agree.
    assert not _by_image(second, "p_now").loc[before.index].equals(before)
    assert len(read_kept(store)) == 4 * 2 * PAIRS_PER_DAY


def test_a_redone_day_s_new_images_get_new_verdicts(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    first = _run(store, *_days(_day(0), _day(1), _day(2)))
    # Day 2 redone: the same photos, new look-alikes (other bytes).
    second = _run(store, *_days(_day(0), _day(1), _day(2, look_sha="b")))
    frame = second.images
    redone = (frame["day"] == "2026-11-03") & (frame["kind"] == LOOK_ALIKE)
    assert frame.loc[redone, "new"].all() and not frame.loc[~redone, "new"].any()
    assert frame.loc[redone, "p_photo"].equals(frame.loc[redone, "p_now"])
    same = first.images[~redone.to_numpy()]
    assert frame.loc[~redone, "p_photo"].to_numpy().tolist() == same["p_photo"].tolist()


def test_the_figures_are_this_run_s_with_counts_and_intervals(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    _run(store, *_days(_day(0), _day(1)))
    verdicts = _run(store, *_days(_day(0), _day(1), _day(2)))
    headline = verdicts.headline()
    record = headline[f"judge_accuracy_{GENERATOR}"]
    assert record["n"] == 3 * 2 * PAIRS_PER_DAY and record["low"] <= record["high"]
    assert headline["judge_accuracy"]["n"] == 3 * 2 * PAIRS_PER_DAY
    assert headline["judge_new_verdicts"] == 2 * PAIRS_PER_DAY
    # The figure is the cross-validation over all three days, not the kept verdicts.
    right = (verdicts.images["p_now"] >= 0.5) == (verdicts.images["kind"] == PHOTO)
    assert verdicts.overall.hits == int(right.sum())


def test_the_same_data_gives_the_same_numbers_and_folds_follow_the_day() -> None:
    images, matrix = _days(*(_day(d) for d in range(7)))
    once = judge(images, matrix, max_train=60)  # a sample of the other days each fold
    again = judge(images.iloc[::-1].reset_index(drop=True), matrix[::-1], max_train=60)
    assert _by_image(once, "p_now").sort_index().equals(_by_image(again, "p_now").sort_index())
    # Beyond MAX_FOLDS days a day's fold partner does not depend on which other days exist.
    days = np.array([f"2026-11-{d:02d}" for d in range(1, 29)])
    some = day_folds(days[:20])
    more = day_folds(days)[:20]
    assert all((some[i] == some[j]) == (more[i] == more[j]) for i in range(20) for j in range(20))
    assert len(set(day_folds(days[:MAX_FOLDS]).tolist())) == MAX_FOLDS


def test_a_verdict_stored_by_another_judge_first_wins(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    images, matrix = _days(_day(0), _day(1))
    ours = judge(images, matrix)
    # Another judge, running beside this one, stored the first image's verdict first.
    first = ours.keys.iloc[0]
    store.put(VERDICTS_KEY, encode_kept(pd.Series({first: 0.123})))
    settled, added = keep(store, ours.images, ours.keys)
    assert added == len(images) - 1
    assert settled["p_photo"].iloc[0] == 0.123 and not settled["new"].iloc[0]
    assert settled["new"].iloc[1:].all()
    kept = read_kept(store)
    assert kept is not None and kept[first] == 0.123 and len(kept) == len(images)
    assert kept.drop(first).equals(settled.set_index(ours.keys)["p_photo"].drop(first))


def test_an_unreadable_table_is_judged_again(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.put(VERDICTS_KEY, b"not a table")
    assert read_kept(store) is None


def _tables(images: pd.DataFrame) -> list[tuple[list[dict], list[dict]]]:
    """The day tables' rows (photos, look-alikes) the findings table is built from."""
    out = []
    for day, group in images.groupby("day", sort=True):
        ids = sorted(set(group["photo_id"].tolist()))
        photos = [{"id": i, "day": day, "status": "stored", "object_key": f"o/{i}"} for i in ids]
        looks = [{"photo_id": i, "generator": GENERATOR, "status": "succeeded",
                  "object_key": f"g/{i}"} for i in ids]  # fmt: skip
        out.append((photos, looks))
    return out


def test_the_site_sees_only_the_new_day_s_verdicts_change(tmp_path: Path) -> None:
    """The gallery re-renders a day whose shown verdicts (`site.findings.verdicts`, what
    its digest is made of) changed: with kept verdicts, after a new day that is only it."""
    store = LocalObjectStore(tmp_path)
    three = [_day(d) for d in range(3)]
    images, matrix = _days(*three)
    before = shown_verdicts(findings_frame(_tables(images), _run(store, images, matrix).images))
    images, matrix = _days(*three, _day(3))
    after = shown_verdicts(findings_frame(_tables(images), _run(store, images, matrix).images))
    changed = {d for d in after if after[d] != before.get(d)}
    assert changed == {"2026-11-04"}
    assert len(after["2026-11-04"]) == PAIRS_PER_DAY
