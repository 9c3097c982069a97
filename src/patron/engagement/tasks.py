"""The daily birthday job: a `birthday` event for every active member whose birthday is
today in the shop's time zone, through the real pipeline. The event id is
`birthday:<customer>:<year>`, so running the job again the same day, or on two workers at
once, pays a birthday once a year: the second run's events are replays."""

from __future__ import annotations

import calendar
import logging
import uuid
from datetime import date, datetime, time
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, extract, or_, select
from sqlalchemy.orm import Session

import patron.engagement.handlers  # noqa: F401  (registers `birthday`)
from patron.auth.models import Tenant
from patron.db.session import Database
from patron.ingest.pipeline import pipeline
from patron.ingest.registry import registry
from patron.members.models import Member
from patron.members.schemas import MemberStatus
from patron.programs.schemas import Program
from patron.programs.service import programs

log = logging.getLogger("patron.jobs")
BATCH = 500


def celebrated(today: date) -> list[tuple[int, int]]:
    """The (month, day) birthdays celebrated on `today`: 29 February on 28 February of a year
    without one."""
    days = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.append((2, 29))
    return days


def _programs(db: Database) -> list[tuple[uuid.UUID, Program]]:
    with db.unit_of_work() as session:
        found = session.execute(
            select(Tenant.tenant_id, Tenant.program_version).where(
                Tenant.program_version.is_not(None)
            )
        ).all()
        return [
            (tenant_id, programs.get(session, tenant_id=tenant_id, version=version))
            for tenant_id, version in found
        ]


def _members(session: Session, tenant_id: uuid.UUID, days: list[tuple[int, int]]) -> list[str]:
    month, day = extract("month", Member.birthday), extract("day", Member.birthday)
    stmt = (
        select(Member.external_id)
        .where(
            Member.tenant_id == tenant_id,
            Member.status == MemberStatus.ACTIVE,
            Member.birthday.is_not(None),
            or_(*(and_(month == m, day == d) for m, d in days)),
        )
        .order_by(Member.external_id)
    )
    return list(session.execute(stmt).scalars())


def birthdays(db: Database, *, now: datetime, batch: int = BATCH) -> int:
    """Send today's birthday events for every shop whose rules listen to them; returns how
    many events were applied (replays of an earlier run not counted)."""
    applied = 0
    for tenant_id, program in _programs(db):
        if not program.ruleset.listens_to("birthday"):
            continue
        zone = ZoneInfo(program.timezone)
        today = now.astimezone(zone).date()
        # The event happens at the start of the day, whenever the job runs: every run of the
        # day sends the very same event, which is then a replay.
        midnight = datetime.combine(today, time(), tzinfo=zone)
        with db.unit_of_work() as session:
            members = _members(session, tenant_id, celebrated(today))
        adapter = registry.adapter()
        for start in range(0, len(members), batch):
            events = [
                adapter.validate_python(_event(external_id, today, midnight))
                for external_id in members[start : start + batch]
            ]

            results = db.run(
                partial(_send, tenant_id=tenant_id, program=program, events=events, now=now)
            )
            applied += sum(1 for r in results if not r["duplicate"])
    if applied:
        log.info("jobs: %d birthday events", applied)
    return applied


def _send(
    session: Session, *, tenant_id: uuid.UUID, program: Program, events: list[Any], now: datetime
) -> list[dict[str, Any]]:
    return pipeline.ingest(session, tenant_id=tenant_id, program=program, events=events, now=now)


def _event(external_id: str, today: date, at: datetime) -> dict[str, Any]:
    return {
        "id": f"birthday:{external_id}:{today.year}",
        "type": "birthday",
        "occurred_at": at,
        "customer": {"external_id": external_id},
        "data": {"year": today.year, "date": today.isoformat()},
    }
