"""The materializations' previews: narrow tables, each reason as a note under the table."""

from __future__ import annotations

from pipeline.lib.day.summaries import look_alikes_markdown, photos_markdown

LONG = "ImageError: " + "the stored bytes end early " * 10 + "| <b>"


def table_lines(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("|")]


def test_previews_stay_narrow_and_put_reasons_below_the_table() -> None:
    photos = [
        {"rank": 1, "title": "t" * 200, "source_id": "a", "photographer_name": "n" * 90,
         "status": "stored", "error": None},
        {"rank": 2, "title": None, "source_id": "b", "photographer_name": None,
         "status": "failed", "error": LONG},
    ]  # fmt: skip
    look_alikes = [
        {"source_id": "a" * 120, "status": "succeeded", "latency_s": 2.345,
         "comparisons": {"ssim": 0.25123}, "error": None},
        {"source_id": "b", "status": "failed", "latency_s": None, "comparisons": None,
         "error": LONG},
    ]  # fmt: skip
    for markdown in (photos_markdown(photos), look_alikes_markdown(look_alikes)):
        lines = table_lines(markdown)
        assert len(lines) == 4 and all(len(line) <= 100 for line in lines)
        assert all(line.count("|") == 5 for line in lines)  # four columns, none for errors
        [note] = [line for line in markdown.splitlines() if line.startswith("- ")]
        assert "the stored bytes end early" in note and "&lt;b&gt;" in note and "<b>" not in note
    assert "| 2.3 | 0.251 |" in look_alikes_markdown(look_alikes)
