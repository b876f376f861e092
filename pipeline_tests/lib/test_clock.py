"""The one clock: pinned in tests, real otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.lib.core import clock

pytestmark = pytest.mark.dates

AT = datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC)


def test_pinned_clock_answers_the_pinned_instant_then_lets_go() -> None:
    with clock.pinned(AT):
        assert clock.utc_now() == AT
        assert clock.utc_today().isoformat() == "2027-01-01"
        with clock.pinned(AT - timedelta(days=365)):  # 2026 has 365 days
            assert clock.utc_today().isoformat() == "2026-01-01"
        assert clock.utc_now() == AT
    # Outside the block it is the system's clock again (compared with the system's own).
    before = datetime.now(UTC)
    assert before - timedelta(seconds=5) <= clock.utc_now() <= datetime.now(UTC)


def test_clock_is_always_utc_even_from_another_zone() -> None:
    east = AT.astimezone(timezone(timedelta(hours=9)))
    with clock.pinned(east):
        assert clock.utc_now().tzinfo == UTC
        assert clock.utc_today().isoformat() == "2027-01-01"  # not the 1st at 09:00 in Tokyo


def test_naive_pins_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"), clock.pinned(datetime(2027, 1, 1)):
        pass


def test_a_stamp_after_now_is_skew_and_counts_as_now() -> None:
    assert clock.not_after_now(AT + timedelta(hours=3), AT) == AT
    assert clock.not_after_now(AT - timedelta(hours=3), AT) == AT - timedelta(hours=3)
