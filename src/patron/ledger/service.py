"""Reading a member's ledger history and adjusting balances by hand."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.errors import InvalidInput
from patron.ledger import engine
from patron.ledger.models import Entry, Posting
from patron.ledger.repository import Changes, book_of, load_lots, write_changes
from patron.members.errors import MemberSuspended
from patron.members.models import Member
from patron.programs.schemas import Program

MAX_ADJUSTMENT = 10_000_000


def terms_of(program: Program) -> engine.Terms:
    return engine.Terms(program.version, program.negative_balance, program.expiry_days)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def stored_posting_out(posting: Posting, entries: list[Entry]) -> dict[str, Any]:
    return {
        "id": str(posting.id),
        "kind": posting.kind,
        "points": posting.points,
        "reason": posting.reason,
        "order_id": posting.order_id,
        "event_id": str(posting.event_id) if posting.event_id else None,
        "program_version": posting.program_version,
        "detail": posting.detail,
        "entries": [{"account": e.account, "amount": e.amount} for e in entries],
        "created_at": _iso(posting.created_at),
    }


def posting_out(p: engine.PostingDraft) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "kind": p.kind,
        "points": p.points,
        "reason": p.reason,
        "order_id": p.order_id,
        "event_id": str(p.event_id) if p.event_id else None,
        "program_version": p.program_version,
        "detail": p.detail,
        "entries": [{"account": e.account, "amount": e.amount} for e in p.entries],
        "created_at": _iso(p.created_at),
    }


class LedgerService:
    def history(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        member_id: uuid.UUID,
        before: uuid.UUID | None,
        limit: int,
        kind: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first."""
        stmt = select(Posting).where(Posting.tenant_id == tenant_id, Posting.member_id == member_id)
        if before is not None:
            stmt = stmt.where(Posting.id < before)
        if kind:
            stmt = stmt.where(Posting.kind == kind)
        postings = list(session.execute(stmt.order_by(Posting.id.desc()).limit(limit)).scalars())
        entries: dict[uuid.UUID, list[Entry]] = {p.id: [] for p in postings}
        if postings:
            for entry in session.execute(
                select(Entry)
                .where(Entry.tenant_id == tenant_id, Entry.posting_id.in_(list(entries)))
                .order_by(Entry.id)
            ).scalars():
                entries[entry.posting_id].append(entry)
        return [stored_posting_out(p, entries[p.id]) for p in postings]

    def adjust(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        member: Member,
        program: Program,
        points: int,
        reason: str,
        now: datetime,
    ) -> tuple[engine.PostingDraft, engine.Book]:
        """`member` must be locked by the caller. Returns the posting and the member's book
        after it (the member row itself is not reloaded)."""
        if points == 0 or abs(points) > MAX_ADJUSTMENT:
            raise InvalidInput(
                f"points must be non-zero and at most {MAX_ADJUSTMENT:,} either way", field="points"
            )
        if member.status != "active":
            raise MemberSuspended(member.external_id)
        book = book_of(member)
        load_lots(session, tenant_id, [book])
        terms = terms_of(program)
        settled = engine.settle(book, now=now, terms=terms)
        expires_at = now + timedelta(days=program.expiry_days) if program.expiry_days else None
        posting = engine.adjust(
            book, points, now=now, reason=reason, terms=terms, expires_at=expires_at
        )
        changes = Changes(postings=[*settled, posting], books={book.member_id: book})
        write_changes(session, tenant_id, changes)
        return posting, book


ledger = LedgerService()
