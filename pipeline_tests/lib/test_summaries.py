"""The materializations' previews: narrow tables, each reason as a note under the table."""

from __future__ import annotations

from pipeline.lib.day.summaries import look_alikes_markdown, photos_markdown

LONG = "ImageError: " + "the stored bytes end early " * 10 + "| <b>"


def table_lines(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("|")]


def test_previews_stay_narrow_and_put_reasons_below_the_table() -> None:
    photos = [
        {
            "rank": 1,
            "title": "t" * 200,
            "source_id": "a",
            "photographer_name": "n" * 90,
            "status": "stored",
            "error": None,
        },
        {
            "rank": 2,
            "title": None,
            "source_id": "b",
            "photographer_name": None,
            "status": "failed",
            "error": LONG,
        },
    ]
    look_alikes = [
        {
            "source_id": "a" * 120,
            "status": "succeeded",
            "latency_s": 2.345,
            "comparisons": {"ssim": 0.25123},
            "error": None,
        },
        {
            "source_id": "b",
            "status": "failed",
            "latency_s": None,
            "comparisons": None,
            "error": LONG,
        },
    ]
    for markdown in (photos_markdown(photos), look_alikes_markdown(look_alikes)):
        lines = table_lines(markdown)
        assert len(lines) == 4 and all(len(line) <= 100 for line in lines)
        assert all(line.count("|") == 5 for line in lines)  # four columns, none for errors
        [note] = [line for line in markdown.splitlines() if line.startswith("- ")]
        assert "the stored bytes end early" in note and "&lt;b&gt;" in note and "<b>" not in note
    assert "| 2.3 | 0.251 |" in look_alikes_markdown(look_alikes)


def test_each_check_says_in_one_line_what_is_left_of_the_day() -> None:
    from datetime import date

    from pipeline.lib.day.audit import DayAudit
    from pipeline.lib.day.summaries import audit_descriptions

    audit = DayAudit(date(2026, 11, 20), photos=6)
    assert audit_descriptions(audit) == {
        "every_photo_accounted_for": "all 6 photos have an outcome",
        "stored_images_decode": "every stored image decodes",
        "no_photo_waiting": "no photo waits or failed",
    }
    audit.waiting = {f"p{i}": "HTTP 503 (asked again from …)" for i in range(5)}
    audit.failures = {"thread": "look-alike failed: 69:1"}
    assert audit_descriptions(audit)["no_photo_waiting"] == (
        "5 photo(s) waiting for a retry: p0, p1, p2 and 2 more; "
        "1 failed for good or refused: thread"
    )
