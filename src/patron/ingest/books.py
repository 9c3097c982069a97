"""The ledger's part in an ingestion: the wallets' books the events post to.

Books enter the ingestion already locked, with the member rows that own them (the members
part reads them in the same statement). This part loads the open lots of the wallets whose
events debit them (claw-backs), settles those books to `now` first, as every debit does, and
writes everything the events posted with the ledger's own operations.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from patron.db.bulk import Op
from patron.ingest.batch import Batch, Item
from patron.ingest.registry import Slot
from patron.ledger.engine import Book, PostingDraft
from patron.ledger.repository import Changes, ledger_ops
from patron.ledger.service import ledger


class BooksPart:
    def __init__(self) -> None:
        self.books: dict[uuid.UUID, Book] = {}
        self.changes = Changes()

    def adopt(self, book: Book) -> None:
        """A book locked by another part (with the row that owns the wallet)."""
        self.books[book.wallet_id] = book

    def load(self, session: Session, batch: Batch, wants: list[tuple[Item, Any]]) -> None:
        wanted = {w for _, w in wants if w is not None}
        books = [self.books[w] for w in sorted(wanted) if w in self.books]
        if books:
            opened = ledger.open_books(
                session, tenant_id=batch.tenant_id, books=books, now=batch.now, terms=batch.terms
            )
            self.changes.books.update(opened.books)
            self.changes.postings.extend(opened.postings)

    def post(self, book: Book, postings: PostingDraft | list[PostingDraft]) -> None:
        self.changes.add(book, postings)

    def ops(self, batch: Batch) -> list[Op]:
        return ledger_ops(batch.tenant_id, self.changes)

    def written(self, batch: Batch, ops: list[Op]) -> None:
        pass


# Last: its lots are read under the locks the other parts took on the wallets' owners.
BOOKS: Slot[BooksPart] = Slot("books", rank=100, factory=BooksPart)
