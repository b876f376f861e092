"""The judge's verdicts, kept: each image is judged once, when it is new, and keeps that word.

A verdict shown on a pair page must not move when a later day is added: the judge retrains
on every day at each gallery build, and its fresh out-of-fold probabilities changed the
shown verdict of almost every day each time, so one new day re-rendered the whole gallery.
So the first honest verdict (out of fold: the model that gave it never trained on the
image's day) is stored here and reused; only images without one are given this run's.

An image is (day, kind, photo id, generator, sha256 of its bytes): a day redone with new
images, or a new generator's look-alikes, are new images and get new verdicts.

Stored as one object, `judge/verdicts.npz` (no pickles), read once and written once per run
(a day's file each would cost a read per day at every build). A put is atomic per object,
so a crash leaves the old table or the new one. Two judges at once: each re-reads the table
just before writing and keeps what is there over its own (`keep`), so an image that one of
them stored first keeps that verdict; the other's output is given the stored verdicts too.
"""

from __future__ import annotations

import io
import logging

import numpy as np
import pandas as pd

from pipeline.lib.core.storage import ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)

VERDICTS_KEY = "judge/verdicts.npz"
KEY_COLUMNS = ("day", "kind", "photo_id", "generator", "sha")


def image_keys(frame: pd.DataFrame) -> pd.Series:
    """One string per image, KEY_COLUMNS joined by "|" (the same whatever their dtypes).
    Built once per run: at 200,000 images each build costs a tenth of a second."""
    parts = [frame[c].astype(str) for c in KEY_COLUMNS]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "|" + part
    return joined.set_axis(frame.index)


def apply_kept(frame: pd.DataFrame, kept: pd.Series | None, keys: pd.Series) -> pd.DataFrame:
    """`frame` (with `p_now`, this run's probability; `keys`: its `image_keys`) with
    `p_photo`: the kept verdict (`kept`: key → p) where there is one, else `p_now`; and
    `new`: this run gave its verdict."""
    out = frame.copy()
    stored = pd.Series(np.nan, index=out.index)
    if kept is not None and not kept.empty:
        stored = keys.map(kept).astype("float64")
    out["p_photo"] = stored.fillna(out["p_now"])
    out["new"] = stored.isna() & out["p_now"].notna()
    return out


def encode_kept(kept: pd.Series) -> bytes:
    """Keys as one UTF-8 text, a line each (a tenth of the size of numpy's fixed-width
    strings), and their probabilities."""
    text = "\n".join(kept.index.astype(str)).encode()
    if text.count(b"\n") != max(len(kept) - 1, 0):
        raise ValueError("an image key holds a line break")
    out = io.BytesIO()
    np.savez_compressed(
        out,
        allow_pickle=False,
        keys=np.frombuffer(text, dtype=np.uint8),
        p_photo=kept.to_numpy(dtype="float64"),
    )
    return out.getvalue()


def decode_kept(data: bytes) -> pd.Series:
    """ValueError if `data` is not a kept-verdicts table."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            text = np.asarray(npz["keys"], dtype=np.uint8).tobytes().decode()
            p_photo = np.asarray(npz["p_photo"], dtype="float64")
    except (OSError, KeyError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise ValueError(f"not a kept-verdicts table ({exc})") from exc
    keys = text.split("\n") if p_photo.size else []
    if len(keys) != len(p_photo):
        raise ValueError(f"{len(keys)} keys but {len(p_photo)} verdicts")
    return pd.Series(p_photo, index=pd.Index(keys, dtype=object), name="p_photo")


def read_kept(store: ObjectStore) -> pd.Series | None:
    """The kept verdicts (image key → p); None if there are none yet. A table that cannot
    be read is logged and treated as none: every image is judged afresh (and every day
    re-rendered once), which is what the verdicts were before they were kept."""
    try:
        return decode_kept(store.get(VERDICTS_KEY))
    except ObjectNotFound:
        return None
    except ValueError as exc:
        log.warning("%s: %s; every image will be judged again", VERDICTS_KEY, exc)
        return None


def keep(store: ObjectStore, frame: pd.DataFrame, keys: pd.Series) -> tuple[pd.DataFrame, int]:
    """Store the verdicts of `frame`'s new images (`apply_kept`'s output; `keys`: its
    `image_keys`) beside the kept ones, and return `frame` with the kept verdicts as they
    now stand (another judge may have stored some of these images first: its verdicts
    win) and how many were added."""
    fresh = frame["new"].to_numpy()
    if not fresh.any():
        return frame, 0
    # Read again just before the write: the window in which another judge's verdicts
    # could be overwritten is this read and one put, not the whole run.
    kept = read_kept(store)
    candidates = pd.Series(frame["p_photo"].to_numpy()[fresh], index=keys.to_numpy()[fresh])
    if kept is not None:
        candidates = candidates[~candidates.index.isin(kept.index)]
    candidates = candidates[~candidates.index.duplicated()]
    merged = pd.concat([kept, candidates]) if kept is not None else candidates
    store.put(VERDICTS_KEY, encode_kept(merged), "application/octet-stream")
    settled = apply_kept(frame.drop(columns=["p_photo", "new"]), merged, keys)
    settled["new"] = frame["new"] & keys.isin(candidates.index)
    return settled, len(candidates)
