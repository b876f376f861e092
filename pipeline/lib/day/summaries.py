"""Short markdown tables for the Dagster UI's metadata previews."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def _cell(value: Any, limit: int = 60) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # Pipes and markup would break or inject into the table.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def photos_markdown(rows: Sequence[dict[str, Any]]) -> str:
    return markdown_table(
        ["#", "photo", "by", "status", "error"],
        (
            (r["rank"], r.get("title") or r["source_id"], r.get("photographer_name"),
             r["status"], r.get("error"))
            for r in rows
        ),
    )  # fmt: skip


def generations_markdown(rows: Sequence[dict[str, Any]]) -> str:
    def measure(row: dict[str, Any], name: str) -> str:
        value = (row.get("comparisons") or {}).get(name)
        return f"{value:.3f}" if isinstance(value, int | float) else ""

    return markdown_table(
        ["photo", "status", "model", "seconds", "SSIM", "error"],
        (
            (r["source_id"], r["status"], r.get("model"), r.get("latency_s"),
             measure(r, "ssim"), r.get("error"))
            for r in rows
        ),
    )  # fmt: skip
