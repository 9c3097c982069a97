"""Vesting and expiry, set-based and safe to run from several processes at once.

Each round takes up to CHUNK members that have due lots and locks them with
`FOR UPDATE SKIP LOCKED` (a member another worker or request holds is left for the next
round), loads their open lots, lets the ledger engine vest or expire what is due, and writes
the result with one statement per table. A round is one transaction.
"""

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.auth.models import Tenant
from patron.db.session import Database
from patron.kit.clock import Clock
from patron.ledger import engine
from patron.ledger.models import Lot
from patron.ledger.repository import Changes, book_of, load_lots, write_changes
from patron.members.models import Member
from patron.programs.schemas import Program
from patron.programs.service import programs

log = logging.getLogger("patron.jobs")
CHUNK = 500


@dataclass
class JobReport:
    vested_lots: int = 0
    vested_points: int = 0
    expired_lots: int = 0
    expired_points: int = 0

    def add(self, other: "JobReport") -> None:
        self.vested_lots += other.vested_lots
        self.vested_points += other.vested_points
        self.expired_lots += other.expired_lots
        self.expired_points += other.expired_points


class JobService:
    def run_round(self, session: Session, *, now: datetime, chunk: int = CHUNK) -> JobReport:
        """Vest and expire what is due for up to `chunk` members."""
        report = JobReport()
        due = (
            select(Lot.tenant_id, Lot.member_id)
            .where(
                Lot.remaining > 0,
                ((Lot.state == "pending") & (Lot.vests_at <= now))
                | ((Lot.state == "available") & (Lot.expires_at <= now)),
            )
            .distinct()
            .limit(chunk)
        )
        pairs = session.execute(due).all()
        if not pairs:
            return report
        by_tenant: dict[uuid.UUID, list[uuid.UUID]] = {}
        for tenant_id, member_id in pairs:
            by_tenant.setdefault(tenant_id, []).append(member_id)
        for tenant_id, member_ids in by_tenant.items():
            report.add(self._run_tenant(session, tenant_id, member_ids, now))
        return report

    def _run_tenant(
        self,
        session: Session,
        tenant_id: uuid.UUID,
        member_ids: list[uuid.UUID],
        now: datetime,
    ) -> JobReport:
        report = JobReport()
        locked = list(
            session.execute(
                select(Member)
                .where(Member.tenant_id == tenant_id, Member.id.in_(member_ids))
                .order_by(Member.external_id)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            ).scalars()
        )
        if not locked:
            return report
        program = self._program(session, tenant_id)
        terms = engine.Terms(
            program.version if program else None,
            program.negative_balance if program else "forbid",
            program.expiry_days if program else None,
        )
        books = {m.id: book_of(m) for m in locked}
        load_lots(session, tenant_id, list(books.values()))
        changes = Changes(books=books)
        for book in books.values():
            for posting in engine.settle(book, now=now, terms=terms):
                changes.add(posting)
                if posting.kind == "vest":
                    report.vested_lots += 1
                    report.vested_points += posting.detail["points"]
                else:
                    report.expired_lots += 1
                    report.expired_points += -posting.points
        write_changes(session, tenant_id, changes)
        return report

    def _program(self, session: Session, tenant_id: uuid.UUID) -> Program | None:
        version = session.execute(
            select(Tenant.program_version).where(Tenant.tenant_id == tenant_id)
        ).scalar_one()
        if version is None:
            return None
        return programs.get(session, tenant_id=tenant_id, version=version)

    def run_due(self, db: Database, *, now: datetime, chunk: int = CHUNK) -> JobReport:
        """Rounds until nothing is due; each round commits on its own."""
        total = JobReport()
        while True:
            with db.unit_of_work() as session:
                report = self.run_round(session, now=now, chunk=chunk)
            total.add(report)
            if report.vested_lots + report.expired_lots == 0:
                return total


def run_periodically(db: Database, clock: Clock, interval: float, stop: threading.Event) -> None:
    """The scheduler thread of `patron serve`."""
    while not stop.wait(interval):
        try:
            report = jobs.run_due(db, now=clock.now())
            if report.vested_lots or report.expired_lots:
                log.info("jobs: %s", report)
        except Exception:  # a failed round must not kill the scheduler; the next one retries
            log.exception("scheduled jobs failed")


jobs = JobService()
