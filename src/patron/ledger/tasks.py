"""Vesting and expiry, set-based and safe to run from several processes at once.

Each round takes up to CHUNK wallets that have due lots and locks them with
`FOR UPDATE SKIP LOCKED` (a wallet another worker or request holds is left for the next
round), loads their open lots, lets the engine vest or expire what is due, and writes the
result with one statement per table. A round is one transaction.

The ledger knows no program: the caller says which terms apply to a tenant's asset (the
program version to record, the debt policy), through `terms_for`.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.db.session import Database
from patron.kit.clock import Clock
from patron.ledger import repository
from patron.ledger.assets import Kind, LotStatus
from patron.ledger.engine import Terms
from patron.ledger.models import Lot
from patron.ledger.service import ledger

log = logging.getLogger("patron.jobs")
CHUNK = 500
TermsFor = Callable[[Session, uuid.UUID, str], Terms]


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


class LedgerTasks:
    def run_round(
        self, session: Session, *, now: datetime, terms_for: TermsFor, chunk: int = CHUNK
    ) -> JobReport:
        """Vest and expire what is due for up to `chunk` wallets."""
        report = JobReport()
        due = (
            select(Lot.tenant_id, Lot.wallet_id, Lot.asset)
            .where(
                Lot.remaining > 0,
                ((Lot.state == LotStatus.PENDING) & (Lot.vests_at <= now))
                | ((Lot.state == LotStatus.AVAILABLE) & (Lot.expires_at <= now)),
            )
            .distinct()
            .limit(chunk)
        )
        groups: dict[tuple[uuid.UUID, str], list[uuid.UUID]] = {}
        for tenant_id, wallet_id, asset in session.execute(due):
            groups.setdefault((tenant_id, asset), []).append(wallet_id)
        for (tenant_id, asset), wallet_ids in groups.items():
            report.add(
                self._settle(
                    session, tenant_id, wallet_ids, now, terms_for(session, tenant_id, asset)
                )
            )
        return report

    def _settle(
        self,
        session: Session,
        tenant_id: uuid.UUID,
        wallet_ids: list[uuid.UUID],
        now: datetime,
        terms: Terms,
    ) -> JobReport:
        report = JobReport()
        books = repository.lock_books(session, tenant_id, wallet_ids, skip_locked=True)
        if not books:
            return report
        changes = ledger.open_books(
            session, tenant_id=tenant_id, books=list(books.values()), now=now, terms=terms
        )
        for posting in changes.postings:
            if posting.kind == Kind.VEST:
                report.vested_lots += 1
                report.vested_points += posting.detail["points"]
            else:
                report.expired_lots += 1
                report.expired_points += -posting.amount
        repository.write_changes(session, tenant_id, changes)
        return report

    def run_due(
        self, db: Database, *, now: datetime, terms_for: TermsFor, chunk: int = CHUNK
    ) -> JobReport:
        """Rounds until nothing is due; each round commits on its own."""
        total = JobReport()
        while True:
            with db.unit_of_work() as session:
                report = self.run_round(session, now=now, terms_for=terms_for, chunk=chunk)
            total.add(report)
            if report.vested_lots + report.expired_lots == 0:
                return total


# Told of every run of the jobs: the report (None if the run failed) and its seconds.
Observer = Callable[[JobReport | None, float], None]


def run_periodically(
    db: Database,
    clock: Clock,
    interval: float,
    stop: threading.Event,
    terms_for: TermsFor,
    observe: Observer | None = None,
    also: Callable[[Database, datetime], object] | None = None,
) -> None:
    """The scheduler thread of `patron serve`. `also`: other domains' jobs, run after the
    ledger's in each round (the ledger imports no other domain)."""
    while not stop.wait(interval):
        started = time.perf_counter()
        report: JobReport | None = None
        try:
            report = tasks.run_due(db, now=clock.now(), terms_for=terms_for)
            if also is not None:
                also(db, clock.now())
            if report.vested_lots or report.expired_lots:
                log.info("jobs: %s", report)
        except Exception:  # a failed round must not kill the scheduler; the next one retries
            log.exception("scheduled jobs failed")
        if observe is not None:
            observe(report, time.perf_counter() - started)


tasks = LedgerTasks()
