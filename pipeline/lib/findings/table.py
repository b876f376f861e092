"""The findings table: one row per pair (a photo and one generator's look-alike).

Built from the day tables (the measures and labels every look-alike carries) and the judge's
out-of-fold verdicts; stored and read back as a pandas DataFrame (`encode_frame`,
`decode_frame`: JSON with its dtypes, no pickles), the form `findings` and `machine_judge`
take through the IO manager and the gallery reads.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from pipeline.lib.findings.features import LOOK_ALIKE, PHOTO, pairs_to_measure

INF = float("inf")
MEASURES = {
    # column: (what it says, higher means closer to the photo, the values it can take)
    "ssim": ("structure (SSIM)", True, (-1.0, 1.0)),
    "colour_distance": ("colour distance", False, (0.0, INF)),
    "patch_swd": ("texture distance (patch-SWD)", False, (0.0, INF)),
    "semantic_similarity": ("content similarity", True, (-1.0, 1.0)),
    "phash_distance": ("perceptual-hash distance", False, (0.0, 64.0)),
}
COLUMNS = (
    "day",
    "month",
    "photo_id",
    "generator",
    *MEASURES,
    "shared_top_label",
    "shared_labels",
    "p_photo",
    "p_look_alike",
    "fooled",
    "p_photo_now",
    "p_look_alike_now",
    "people_votes",
    "people_photo",
)


def findings_frame(
    days: Iterable[tuple[Iterable[Mapping[str, Any]], Iterable[Mapping[str, Any]]]],
    verdicts: pd.DataFrame | None,
    people: Mapping[tuple[int, str], tuple[int, int]] | None = None,
) -> pd.DataFrame:
    """One row per pair of `days` ((photos rows, look-alikes rows) per day), with the
    judge's probability of "photo" for the photo (`p_photo`) and for the look-alike
    (`p_look_alike`); `fooled`: the judge took the look-alike for a photo (NA: unjudged).
    `people`: (photo id, generator) → (answers, of which picked the photo), from the
    `human_votes` tables (`votes.tally.people_by_pair`): `people_votes`, `people_photo`."""
    people = people or {}
    rows = []
    for photos, look_alikes in days:
        for photo, look in pairs_to_measure(photos, look_alikes):
            found = look.get("comparisons")
            comparisons: dict[str, Any] = found if isinstance(found, dict) else {}
            photo_labels = _labels(comparisons.get("original"))
            look_labels = _labels(comparisons.get("generated"))
            row: dict[str, Any] = {
                "day": str(photo.get("day")),
                "photo_id": int(photo["id"]),
                "generator": str(look.get("generator") or ""),
                "shared_top_label": (
                    photo_labels[0] == look_labels[0] if photo_labels and look_labels else None
                ),
                "shared_labels": len(set(photo_labels) & set(look_labels))
                if photo_labels
                else None,
            }
            for name in MEASURES:
                value = comparisons.get(name)
                row[name] = float(value) if isinstance(value, int | float) else np.nan
            row["people_votes"], row["people_photo"] = people.get(
                (row["photo_id"], row["generator"]), (0, 0)
            )
            rows.append(row)
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in (*_JUDGED, "month")])
    frame["month"] = frame["day"].str.slice(0, 7)
    frame = _with_verdicts(frame, verdicts)
    return frame.loc[:, list(COLUMNS)].astype(_DTYPES).reset_index(drop=True)


_JUDGED = ("p_photo", "p_look_alike", "fooled", "p_photo_now", "p_look_alike_now")
_DTYPES = {
    "day": "string",
    "month": "string",
    "photo_id": "Int64",
    "generator": "string",
    **dict.fromkeys(MEASURES, "float64"),
    "shared_top_label": "boolean",
    "shared_labels": "Int64",
    "p_photo": "float64",
    "p_look_alike": "float64",
    "fooled": "boolean",
    "p_photo_now": "float64",
    "p_look_alike_now": "float64",
    "people_votes": "Int64",
    "people_photo": "Int64",
}


def _labels(stats: Any) -> list[str]:
    labels = stats.get("labels") if isinstance(stats, dict) else None
    if not isinstance(labels, list):
        return []
    return [str(x["name"]) for x in labels if isinstance(x, dict) and x.get("name")]


def _with_verdicts(frame: pd.DataFrame, verdicts: pd.DataFrame | None) -> pd.DataFrame:
    if verdicts is None or verdicts.empty:
        for name in _JUDGED:
            frame[name] = np.nan
        return frame
    v = verdicts.astype({"photo_id": "int64", "generator": "string"})
    photos = v[v["kind"] == PHOTO].drop_duplicates("photo_id").set_index("photo_id")
    looks = v[v["kind"] == LOOK_ALIKE].drop_duplicates(["photo_id", "generator"])
    looks = looks.set_index(["photo_id", "generator"])
    keys = pd.MultiIndex.from_arrays([frame["photo_id"], frame["generator"].astype("string")])
    # A judge table stored before verdicts were kept has only p_photo: it is both.
    now = "p_now" if "p_now" in v.columns else "p_photo"
    frame["p_photo"] = frame["photo_id"].map(photos["p_photo"]).astype("float64")
    frame["p_photo_now"] = frame["photo_id"].map(photos[now]).astype("float64")
    frame["p_look_alike"] = looks["p_photo"].reindex(keys).to_numpy(dtype="float64")
    frame["p_look_alike_now"] = looks[now].reindex(keys).to_numpy(dtype="float64")
    fooled = pd.Series(frame["p_look_alike"] >= 0.5, dtype="boolean")
    frame["fooled"] = fooled.mask(frame["p_look_alike"].isna())
    return frame


def encode_frame(frame: pd.DataFrame) -> bytes:
    """The frame as JSON with its dtypes (pandas' table orient)."""
    return frame.to_json(orient="table", index=False).encode()


def decode_frame(data: bytes) -> pd.DataFrame:
    """ValueError if `data` is not a stored frame."""
    try:
        return pd.read_json(io.StringIO(data.decode()), orient="table")
    except (UnicodeDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"not a stored table ({exc})") from exc
