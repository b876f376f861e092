"""The machine judge: can a plain classifier tell the photo from its look-alike?

A logistic regression (scikit-learn) on each image's features (`features`), photo = 1,
look-alike = 0. It is tested only on days it did not learn from: cross-validation grouped by
day (`day_folds`: all of a day's images in one fold), so a photo and its look-alike (always
of one day) never sit on both sides of a split, and every image gets an out-of-fold
probability of being the photo. Accuracy is per image (a verdict "photo" when that
probability is at least one half), per generator over its look-alikes and their photos,
each with its count and 95 % Wilson interval.

Why this model: it is well known, fast, and its verdict is a calibrated-enough probability
to show beside a person's guess; a judge that only a bigger model could beat is a finding too.
Classes are weighted to balance (with several generators a photo has several look-alikes).
Each fold trains on at most `MAX_TRAIN` images, so 100,000 pairs cost seconds and bounded
memory; every image is still judged.

Verdicts are kept (`kept`): an image's verdict is the out-of-fold probability of the first
run that judged it, so the pages that show it do not change when days are added. The
accuracy figures are this run's cross-validation over every day (`p_now`), so they move.
The same data gives the same numbers: a day's fold and the training sample come from the
days' and images' own keys (a hash), not from a random draw over the set of days.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.lib.findings.features import LOOK_ALIKE, PHOTO, POOLED, WIDTH
from pipeline.lib.findings.intervals import Rate, wilson
from pipeline.lib.findings.kept import apply_kept, image_keys

MAX_FOLDS = 5
MAX_TRAIN = 6_000
PREDICT_CHUNK = 5_000  # images converted to float32 at a time (a bounded transient)
REGULARISATION = 1.0  # scikit-learn's C, on standardised features
COMPONENTS = 32  # of the pooled features (at most a quarter of the training images)
SEED = 26
NEEDS_DAYS = (
    "the judge needs pairs from at least two days (it is only tested on days it did not "
    "learn from); run more days, then materialize machine_judge again"
)
IMAGE_COLUMNS = ("day", "kind", "photo_id", "generator")


@dataclass
class Verdicts:
    """`images`: IMAGE_COLUMNS, `sha`, `p_now` (this run's out-of-fold probability; NaN if
    unjudged), `fold`, `p_photo` (the kept verdict, else `p_now`) and `new` (judged now)."""

    images: pd.DataFrame
    keys: pd.Series  # `images`' image keys (`kept.image_keys`), for `kept.keep`
    accuracy: dict[str, Rate]  # per generator: its look-alikes and their photos
    overall: Rate
    folds: int
    days: int
    note: str | None = None
    notes: list[str] = field(default_factory=list)

    def headline(self) -> dict[str, object]:
        """Metadata: every figure with its count and interval."""
        out: dict[str, object] = {
            "judge_days": self.days,
            "judge_folds": self.folds,
            "judge_images": len(self.images),
            # Judged for the first time in this run; the others kept their verdicts.
            "judge_new_verdicts": int(self.images["new"].sum()),
        }
        if self.note:
            out["judge_note"] = self.note
        out["judge_accuracy"] = self.overall.as_record()
        for generator, rate in sorted(self.accuracy.items()):
            out[f"judge_accuracy_{generator}"] = rate.as_record()
        return out


def judge(
    images: pd.DataFrame,
    matrix: np.ndarray,
    *,
    kept: pd.Series | None = None,
    max_train: int = MAX_TRAIN,
) -> Verdicts:
    """Judge every row of `images` (IMAGE_COLUMNS and, if known, `sha`: its bytes' hash; its
    features are `matrix`'s row). `kept`: verdicts already given (`kept.read_kept`)."""
    from threadpoolctl import threadpool_limits

    # One BLAS thread: these matrices are small, and on a busy 2-core machine more threads
    # only wait for each other (a 90-image PCA took 1.1 s with them, 5 ms without).
    with threadpool_limits(limits=1):
        frame = _judge(images, matrix, max_train)
    images = apply_kept(frame.images, kept, frame.keys)
    return _score(images, frame.keys, frame.folds, frame.days, frame.note)


@dataclass
class _Run:
    images: pd.DataFrame
    keys: pd.Series
    folds: int
    days: int
    note: str | None


def _judge(images: pd.DataFrame, matrix: np.ndarray, max_train: int) -> _Run:
    if len(images) != len(matrix):
        raise ValueError(f"{len(images)} images but {len(matrix)} feature rows")
    frame = images.loc[:, list(IMAGE_COLUMNS)].reset_index(drop=True).copy()
    frame["sha"] = images["sha"].to_numpy() if "sha" in images else ""
    frame["p_now"] = np.nan
    frame["fold"] = -1
    keys = image_keys(frame)
    days = frame["day"].astype(str).to_numpy()
    n_days = len(set(days))
    if n_days < 2:
        return _Run(frame, keys, 0, n_days, NEEDS_DAYS)
    labels = (frame["kind"] == PHOTO).to_numpy()
    fold_of = day_folds(days)
    # The sample a fold trains on: the images with the lowest hashes of their keys, in that
    # order (the PCA's randomised solver depends on the rows' order), so the same images
    # train the same model whatever order they came in; a new day only adds candidates.
    rank = pd.util.hash_pandas_object(keys, index=False).to_numpy()
    p_now = np.full(len(frame), np.nan)
    folds = int(fold_of.max()) + 1
    for k in range(folds):
        test, train = np.flatnonzero(fold_of == k), np.flatnonzero(fold_of != k)
        train = train[np.argsort(rank[train], kind="stable")[:max_train]]
        if len(set(labels[train].tolist())) < 2:
            continue  # one class only: nothing to learn from; its images stay unjudged
        model = _fit(matrix[train], labels[train])
        for start in range(0, len(test), PREDICT_CHUNK):
            chunk = test[start : start + PREDICT_CHUNK]
            p_now[chunk] = model.predict_proba(matrix[chunk].astype(np.float32))[:, 1]
    frame["p_now"] = p_now
    frame["fold"] = fold_of
    return _Run(frame, keys, folds, n_days, None)


def day_folds(days: np.ndarray) -> np.ndarray:
    """Each image's fold, from its day alone. Up to MAX_FOLDS days, one fold per day (in
    date order); beyond, a hash of the day picks one of MAX_FOLDS (renumbered 0, 1, … so
    none is empty). Beyond MAX_FOLDS days, adding a day never parts two others."""
    unique = sorted(set(days.tolist()))
    if len(unique) <= MAX_FOLDS:
        raw = {d: i for i, d in enumerate(unique)}
    else:
        raw = {d: int(hashlib.sha256(d.encode()).hexdigest(), 16) % MAX_FOLDS for d in unique}
    number = {f: i for i, f in enumerate(sorted(set(raw.values())))}
    return np.array([number[raw[d]] for d in days.tolist()], dtype=np.int64)


def _fit(rows: np.ndarray, labels: np.ndarray):  # type: ignore[no-untyped-def]
    """Standardised features; the 1280 pooled ones first reduced to their main components
    (`COMPONENTS`): with a few hundred images, 1280 weights would mostly fit noise and drown
    the three cheap statistics (seen in the tests: 72 % on noise look-alikes, 100 % with the
    reduction)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    components = max(1, min(COMPONENTS, len(rows) // 4))
    blocks = ColumnTransformer(
        [
            (
                "pooled",
                make_pipeline(
                    StandardScaler(), PCA(components, random_state=SEED), StandardScaler()
                ),
                slice(0, POOLED),
            ),
            ("cheap", StandardScaler(), slice(POOLED, WIDTH)),
        ]
    )
    model = make_pipeline(
        blocks, LogisticRegression(C=REGULARISATION, class_weight="balanced", max_iter=300)
    )
    return model.fit(rows.astype(np.float32), labels)


def correct(frame: pd.DataFrame, column: str = "p_photo") -> pd.Series:
    """Per image: the judge's verdict (photo when `column` >= 0.5) was right (NaN: unjudged)."""
    said_photo = frame[column] >= 0.5
    right = said_photo == (frame["kind"] == PHOTO)
    return right.where(frame[column].notna())


def _score(
    frame: pd.DataFrame, keys: pd.Series, folds: int, days: int, note: str | None
) -> Verdicts:
    # The figures are this run's cross-validation over every day, not the kept verdicts.
    right = correct(frame, "p_now")
    judged = right.notna()
    overall = wilson(int(right[judged].sum()), int(judged.sum()))
    accuracy: dict[str, Rate] = {}
    looks = frame[frame["kind"] == LOOK_ALIKE]
    photo_right = right[frame["kind"] == PHOTO].set_axis(
        frame.loc[frame["kind"] == PHOTO, "photo_id"]
    )
    photo_right = photo_right[~photo_right.index.duplicated()]
    for generator, group in looks.groupby("generator", sort=True):
        own = right[group.index]
        theirs = photo_right.reindex(group["photo_id"].unique())
        both = pd.concat([own, theirs]).dropna()
        accuracy[str(generator)] = wilson(int(both.sum()), len(both))
    notes = _few(accuracy) if note is None else []
    return Verdicts(frame, keys, accuracy, overall, folds, days, note, notes)


def _few(accuracy: dict[str, Rate], enough: int = 100) -> list[str]:
    """Say when an interval is wide because there are few images."""
    return [
        f"{g}: only {r.n} images judged; the interval ({r.low * 100:.0f}–{r.high * 100:.0f} %) "
        "is wide, and narrows as days are added"
        for g, r in sorted(accuracy.items())
        if r.n < enough
    ]


def fold_days(verdicts: Verdicts) -> Sequence[set[str]]:
    """The days each fold was tested on (disjoint, if the split is grouped by day)."""
    frame = verdicts.images
    return [set(frame.loc[frame["fold"] == k, "day"].astype(str)) for k in range(verdicts.folds)]
