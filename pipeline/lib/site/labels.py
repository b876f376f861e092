"""What each image of a pair shows, in words: the network's labels, shared ones marked.

The labels are stored with the comparisons (`comparisons.original.labels` and
`comparisons.generated.labels`, see `pipeline.lib.measures.semantic`). "The main subject is
kept" when the photo's top label is among the look-alike's labels; the stats page charts how
often.
"""

from __future__ import annotations

from typing import Any

LABEL_LIMIT = 80  # characters; ImageNet's longest clean name is about 40


def label_names(stats: Any) -> list[str]:
    labels = stats.get("labels") if isinstance(stats, dict) else None
    if not isinstance(labels, list):
        return []
    names = []
    for item in labels:
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name.strip() and name not in names:
            names.append(name.strip()[:LABEL_LIMIT])
    return names


def pair_labels(comparisons: dict[str, Any], caption: str | None) -> dict[str, Any] | None:
    """{"photo": [{name, shared}], "lookalike": [...], "caption"} or None without labels."""
    photo = label_names(comparisons.get("original"))
    made = label_names(comparisons.get("generated"))
    if not photo and not made:
        return None
    shared = set(photo) & set(made)
    return {
        "photo": [{"name": n, "shared": n in shared} for n in photo],
        "lookalike": [{"name": n, "shared": n in shared} for n in made],
        "shared": len(shared),
        "caption": caption,
    }


def subject_kept(comparisons: dict[str, Any]) -> bool | None:
    """Whether the photo's top label is among the look-alike's (None: not measured)."""
    photo = label_names(comparisons.get("original"))
    made = label_names(comparisons.get("generated"))
    if not photo or not made:
        return None
    return photo[0] in made
