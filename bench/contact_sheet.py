"""A contact sheet for the benches: rows of labelled tiles on white, saved as PNG."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

PAD, LABEL = 6, 14  # pixels around each tile, and for its line of text above it


def save_contact_sheet(rows: list[list[tuple[Image.Image, str]]], path: Path) -> None:
    width = max(sum(img.width + PAD for img, _ in tiles) for tiles in rows) + PAD
    height = sum(max(img.height for img, _ in tiles) + LABEL + PAD for tiles in rows) + PAD
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    y = PAD
    for tiles in rows:
        x = PAD
        for img, text in tiles:
            draw.text((x, y), text, fill="black")
            sheet.paste(img, (x, y + LABEL))
            x += img.width + PAD
        y += max(img.height for img, _ in tiles) + LABEL + PAD
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
