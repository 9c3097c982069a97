"""The ledger's unit of change: open a wallet's book under its lock, settle what is due, post,
write. Every debit and credit outside event ingestion goes through `transact`; ingestion and
the scheduled jobs use `open_books` and the repository's writes on many books at once."""

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from patron.db import bulk
from patron.errors import InvalidInput
from patron.ledger import engine, repository
from patron.ledger.engine import Book, PostingDraft, Terms
from patron.ledger.repository import Changes
from patron.ledger.schemas import stored_posting_view

MAX_ADJUSTMENT = 10_000_000
Operation = Callable[[Book], PostingDraft | list[PostingDraft]]


class WalletNotFound(LookupError):
    """A wallet that was never opened: a programming error (wallets are opened with their
    holder), never a client's."""


class LedgerService:
    def open_wallets(
        self, session: Session, *, tenant_id: uuid.UUID, wallets: Sequence[tuple[uuid.UUID, str]]
    ) -> None:
        """Create empty wallets (wallet id, asset) that do not exist yet."""
        bulk.execute(session, [repository.open_wallets_op(tenant_id, wallets)])

    def open_books(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        books: Sequence[Book],
        now: datetime,
        terms: Terms,
    ) -> Changes:
        """Load the open lots of books already locked and bring each to `now` (vest and expire
        what is due), so that what follows never spends an expired lot nor refuses a vested
        one. The returned changes hold the settling postings; add yours, then write them."""
        repository.load_lots(session, tenant_id, books)
        changes = Changes()
        for book in books:
            changes.books[book.wallet_id] = book
            settled = engine.settle(book, now=now, terms=terms)
            if settled:
                changes.add(book, settled)
        return changes

    def transact(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        wallet_id: uuid.UUID,
        terms: Terms,
        now: datetime,
        operation: Operation,
    ) -> tuple[list[PostingDraft], Book]:
        """Lock the wallet, settle it, apply `operation` to its book and write everything.
        Returns the operation's postings and the book after them."""
        book = repository.lock_books(session, tenant_id, [wallet_id]).get(wallet_id)
        if book is None:
            raise WalletNotFound(f"wallet {wallet_id} was never opened")
        changes = self.open_books(session, tenant_id=tenant_id, books=[book], now=now, terms=terms)
        made = operation(book)
        postings = [made] if isinstance(made, PostingDraft) else list(made)
        changes.add(book, postings)
        repository.write_changes(session, tenant_id, changes)
        return postings, book

    def adjust(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        wallet_id: uuid.UUID,
        amount: int,
        reason: str,
        terms: Terms,
        now: datetime,
    ) -> tuple[PostingDraft, Book]:
        """A support agent's correction, with a reason. A credit expires as earned points do.
        Returns the posting and the book after it."""
        if amount == 0 or abs(amount) > MAX_ADJUSTMENT:
            raise InvalidInput(
                f"points must be non-zero and at most {MAX_ADJUSTMENT:,} either way", field="points"
            )
        expires_at = now + timedelta(days=terms.expiry_days) if terms.expiry_days else None
        [posting], book = self.transact(
            session,
            tenant_id=tenant_id,
            wallet_id=wallet_id,
            terms=terms,
            now=now,
            operation=lambda book: engine.adjust(
                book, amount, now=now, reason=reason, terms=terms, expires_at=expires_at
            ),
        )
        return posting, book

    def transfer(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        source: uuid.UUID,
        target: uuid.UUID,
        reason: str,
        terms: Terms,
        now: datetime,
    ) -> tuple[list[PostingDraft], Book, Book]:
        """Move everything wallet `source` holds into wallet `target` (engine.transfer): lock
        both wallets (in wallet-id order, as every caller does), settle both to `now`, post
        and write. The caller holds the wallets' owners locked already. Returns the postings
        (none if the source held nothing and earned nothing) and both books after them."""
        books = repository.lock_books(session, tenant_id, [source, target])
        missing = {source, target} - set(books)
        if missing:
            raise WalletNotFound(f"wallets {sorted(map(str, missing))} were never opened")
        out_of, into = books[source], books[target]
        changes = self.open_books(
            session, tenant_id=tenant_id, books=[out_of, into], now=now, terms=terms
        )
        postings = engine.transfer(out_of, into, now=now, reason=reason, terms=terms)
        for posting in postings:
            changes.add(out_of if posting.wallet_id == source else into, posting)
        repository.write_changes(session, tenant_id, changes)
        return postings, out_of, into

    def history(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        wallet_id: uuid.UUID,
        before: uuid.UUID | None,
        limit: int,
        kind: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first."""
        rows = repository.history(
            session, tenant_id, wallet_id, before=before, limit=limit, kind=kind
        )
        return [stored_posting_view(p, entries) for p, entries in rows]

    def export(
        self, session: Session, *, tenant_id: uuid.UUID, wallet_ids: Sequence[uuid.UUID]
    ) -> dict[str, list[dict[str, Any]]]:
        """Everything the ledger holds for these wallets: their balances, every posting
        (oldest first, with its entries, as the history shows it) and every lot."""
        return {
            "wallets": [
                {
                    "wallet_id": str(b.wallet_id),
                    "asset": b.asset,
                    "available": max(b.available, 0),
                    "pending": b.pending,
                    "lifetime": b.lifetime,
                    "debt": max(-b.available, 0),
                }
                for b in repository.balances_of(session, tenant_id, wallet_ids)
            ],
            "postings": [
                {"wallet_id": str(p.wallet_id), **stored_posting_view(p, entries)}
                for p, entries in repository.postings_of_wallets(session, tenant_id, wallet_ids)
            ],
            "lots": [
                {
                    "id": str(lot.id),
                    "wallet_id": str(lot.wallet_id),
                    "asset": lot.asset,
                    "posting_id": str(lot.posting_id),
                    "order_id": lot.order_id,
                    "state": lot.state,
                    "amount": lot.amount,
                    "remaining": lot.remaining,
                    "earned_at": _iso(lot.earned_at),
                    "vests_at": _iso(lot.vests_at),
                    "expires_at": _iso(lot.expires_at),
                }
                for lot in repository.lots_of_wallets(session, tenant_id, wallet_ids)
            ],
        }

    def redact(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        wallet_ids: Sequence[uuid.UUID],
        redact: Callable[[str], str],
    ) -> int:
        """Rewrite the reasons of these wallets' postings (free text a support agent or a shop
        wrote may name the holder) through `redact`. The one change a posting ever gets after
        it is written: amounts, entries and lots never change. Returns how many changed."""
        return repository.redact_reasons(session, tenant_id, wallet_ids, redact)

    def postings_of_events(
        self, session: Session, *, tenant_id: uuid.UUID, event_row_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[dict[str, Any]]]:
        """Stored event row id -> the postings it made, as they were shown then."""
        out: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for p, entries in repository.postings_of_events(session, tenant_id, event_row_ids):
            assert p.event_id is not None
            out.setdefault(p.event_id, []).append(stored_posting_view(p, entries))
        return out


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


ledger = LedgerService()
