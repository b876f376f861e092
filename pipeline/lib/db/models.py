"""The database of record: each photo used, the look-alike each generator made from it
(one per photo and generator), and every request that may have been billed on the way.

The code says *photo* and *look-alike* (`Photo`, `LookAlike`, `photo_id`); the tables and
columns keep the names they were created with (`inspiration_images`, `generated_images`,
`inspiration_id`) because existing deployments hold data in them and the deploy checks and
dashboards query them by name. Renaming them would need a migration for no change in
behaviour; the mapping below is the one place the two vocabularies meet."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from pipeline.lib.core import clock


def utcnow() -> datetime:
    return clock.utc_now()


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class Photo(Base):
    """A photo chosen for a day (table `inspiration_images`). `status` is "stored" once its
    bytes are safe; it is *used* (one of the day's photos, handed to the generator) once its
    download is tracked too.
    Other statuses: "failed" (tried again on a re-run), "refused" (by the URL policy, never
    retried), "untracked" (download tracking failed too often; not used)."""

    __tablename__ = "inspiration_images"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_inspiration_source_id"),
        # Every column the tick counts by (`day_status`): counted from the index alone.
        Index(
            "ix_inspiration_images_counted", "day", "source", "status", "download_tracked_at", "id"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(255))
    day: Mapped[date] = mapped_column(Date, index=True)
    rank: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)

    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    likes: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    photographer_name: Mapped[str | None] = mapped_column(Text)
    photographer_url: Mapped[str | None] = mapped_column(Text)
    page_url: Mapped[str | None] = mapped_column(Text)
    display_url: Mapped[str | None] = mapped_column(Text)
    license: Mapped[str | None] = mapped_column(Text)
    credit: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    object_key: Mapped[str | None] = mapped_column(String(512))
    content_type: Mapped[str | None] = mapped_column(String(64))
    sha256: Mapped[str | None] = mapped_column(String(64))
    byte_size: Mapped[int | None] = mapped_column(Integer)
    download_tracked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Counted before each call is sent, so a crash still counts towards the bound.
    tracking_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tracking_error: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    # One per generator that was asked (DOPPEL_GENERATORS), in the order they were made.
    look_alikes: Mapped[list[LookAlike]] = relationship(
        back_populates="photo", lazy="selectin", order_by="LookAlike.id"
    )

    @property
    def used(self) -> bool:
        return self.status == "stored" and self.download_tracked_at is not None

    def look_alike_by(self, generator: str) -> LookAlike | None:
        """This photo's look-alike from `generator`, if that generator was asked."""
        return next((g for g in self.look_alikes if g.generator == generator), None)


class DaySource(Base):
    """The source a day is collected from: claimed by its first collection, so one day never
    mixes two sources; `doppel redo DAY` hands the day to another one."""

    __tablename__ = "day_sources"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    chosen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def photo_is_used() -> ColumnElement[bool]:
    """`Photo.used` as SQL: the one definition of "the day's photos"."""
    return and_(Photo.status == "stored", Photo.download_tracked_at.is_not(None))


class Outcome(StrEnum):
    """Where a photo's look-alike stands: the values of `LookAlike.status`.

    Every error is sorted into one of these in one place
    (`pipeline.lib.failures.sort_failure`)."""

    SUCCEEDED = "succeeded"  # made and stored
    REFUSED = "refused"  # the generator's safety system declined the photo: final
    FAILED = "failed"  # failed for good, `error` says why; only `doppel retry` asks again
    WAITING = "waiting"  # failed for a reason that may pass: asked again from `retry_at`

    @property
    def final(self) -> bool:
        """Nothing more will happen to it unless a person asks (`doppel retry`)."""
        return self in FINAL_OUTCOMES


FINAL_OUTCOMES = frozenset({Outcome.SUCCEEDED, Outcome.REFUSED, Outcome.FAILED})


class LookAlike(Base):
    """The look-alike of one photo by one generator (one-to-one per photo and generator),
    or why there is none (table `generated_images`): its `Outcome` in `status`, the
    one-line reason in `error`."""

    __tablename__ = "generated_images"
    __table_args__ = (
        # The unique pair also serves every lookup by photo (its leading column).
        UniqueConstraint("inspiration_id", "generator", name="uq_generated_photo_generator"),
        # Every column the tick counts and sums (`day_status`, `holdings_totals`), so it never
        # reads the wide rows (comparisons are kilobytes of JSON).
        Index(
            "ix_generated_images_counted",
            "inspiration_id",
            "generator",
            "status",
            "cost_usd",
            "latency_s",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(
        "inspiration_id", ForeignKey("inspiration_images.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))  # an `Outcome`
    error: Mapped[str | None] = mapped_column(Text)
    # Waiting only: not asked again before this (a backoff, the next day's budget).
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Failures that may pass, in a row: at the cap the photo fails for good.
    transient_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    generator: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(128))
    strategy: Mapped[str | None] = mapped_column(String(64))
    prompt: Mapped[str | None] = mapped_column(Text)
    seed: Mapped[int | None] = mapped_column(Integer)

    object_key: Mapped[str | None] = mapped_column(String(512))
    content_type: Mapped[str | None] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))

    cost_usd: Mapped[float | None] = mapped_column(Float)
    latency_s: Mapped[float | None] = mapped_column(Float)
    request_id: Mapped[str | None] = mapped_column(String(128))
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    comparisons: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    photo: Mapped[Photo] = relationship(back_populates="look_alikes")


class BilledRequest(Base):
    """One request that may be billed (an image, edit or vision POST), written before it is
    sent and completed after. `outcome` is "pending" until then; a crash leaves it pending,
    which counts as billed, like "unknown" (a timeout or a cut reply).

    The cap per photo and generator is the table's own rule: an attempt that may be billed
    holds one of the photo's `paid_cap` slots of its generator in the current `cap_round`
    (each generator has its own slots and rounds), and the unique constraint lets
    no two requests hold the same slot, whatever process or thread sent them. A request that
    turned out not billed (an error status) gives its slot back (NULL). `doppel retry` lifts
    the cap by writing a "cap_lifted" row that opens the next round.
    """

    __tablename__ = "billed_requests"
    __table_args__ = (
        UniqueConstraint(
            "inspiration_id", "generator", "cap_round", "paid_slot", name="uq_billed_paid_slot"
        ),
        CheckConstraint(
            "paid_slot IS NULL OR (paid_slot >= 1 AND paid_slot <= paid_cap)",
            name="ck_billed_slot_within_cap",
        ),
        # A generator's newest answer (`Ledger.last_stop`, every gap-fill tick): one entry read.
        Index("ix_billed_requests_generator_completed", "generator", "completed_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(
        "inspiration_id", ForeignKey("inspiration_images.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="request")  # request | cap_lifted
    cap_round: Mapped[int] = mapped_column(Integer, default=1)
    paid_slot: Mapped[int | None] = mapped_column(Integer)
    paid_cap: Mapped[int] = mapped_column(Integer, default=0)

    generator: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[str | None] = mapped_column(String(32))
    quality: Mapped[str | None] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer, default=1)  # this photo's nth request
    estimated_usd: Mapped[float] = mapped_column(Float, default=0.0)

    # pending | billed | unknown | not_billed (| lifted, for cap_lifted rows)
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
    http_status: Mapped[int | None] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(128))
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str | None] = mapped_column(Text)

    reserved_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PhotoClaim(Base):
    """A run's lease on a photo while it makes its look-alike (`pipeline.lib.day.claims`).

    The primary key makes the claim one row per photo: of two runs inserting it, one gets
    it. The holder renews `expires_at` while it works and deletes the row once the photo's
    outcome is recorded; a row past `expires_at` was left by a holder that died, and the
    next run takes it over (the ledger says what that holder already sent)."""

    __tablename__ = "photo_claims"

    photo_id: Mapped[int] = mapped_column(
        "inspiration_id",
        ForeignKey("inspiration_images.id", ondelete="CASCADE"),
        primary_key=True,
    )
    holder: Mapped[str] = mapped_column(String(128), index=True)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Vote(Base):
    """One game answer the vote service accepted (table `votes`, migration 0009_votes).

    `picked` is the image picked ("photo" or "lookalike"); in single-image mode it is the
    answer ("this is the photo" or "the machine's"), `shown` the image that was shown and
    `confidence` 50-100. `correct` is the service's, from the published pair. `browser_id` is
    a random id the browser keeps in localStorage: no address, no cookie. One browser id counts
    once per pair (the unique constraint)."""

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("browser_id", "inspiration_id", "generator", name="uq_votes_browser_pair"),
        Index("ix_votes_pair", "inspiration_id", "generator"),
        Index("ix_votes_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    photo_id: Mapped[int] = mapped_column(
        "inspiration_id", ForeignKey("inspiration_images.id", ondelete="CASCADE")
    )
    generator: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(8))  # pair | single
    picked: Mapped[str] = mapped_column(String(16))
    shown: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[int | None] = mapped_column(SmallInteger)
    correct: Mapped[bool] = mapped_column(Boolean)
    answer_ms: Mapped[int] = mapped_column(Integer)
    browser_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
