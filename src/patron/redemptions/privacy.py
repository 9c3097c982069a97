"""The redemptions domain's part in erasing, exporting and merging members
(`patron.members.privacy.Holder`; docs/privacy.md). A redemption stays with the member who
made it: a merge leaves it in the duplicate's history, beside the posting it made."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.db import bulk
from patron.members.models import Member
from patron.members.privacy import Erasing, Subject
from patron.redemptions.models import Redemption


def _of(session: Session, subject: Subject) -> list[Redemption]:
    if not subject.member_ids:
        return []
    return list(
        session.execute(
            select(Redemption)
            .where(
                Redemption.tenant_id == subject.tenant_id,
                bulk.one_of(session, Redemption.member_id, subject.member_ids),
            )
            .order_by(Redemption.id)
        ).scalars()
    )


class RedemptionsHolder:
    section = "redemptions"
    kept: Mapping[str, frozenset[str]] = {}

    def lock(self, session: Session, subject: Subject) -> None:
        pass

    def export(self, session: Session, subject: Subject) -> list[dict[str, Any]]:
        return [
            {
                "id": str(r.id),
                "points": r.points,
                "description": r.description,
                "transaction_id": str(r.posting_id),
                "created_at": r.created_at.isoformat().replace("+00:00", "Z"),
            }
            for r in _of(session, subject)
        ]

    def erase(self, session: Session, subject: Subject, erasing: Erasing) -> None:
        """Descriptions and Idempotency-Keys are the shop's free text: the customer's ids,
        emails and names are removed from them."""
        for r in _of(session, subject):
            description, key = erasing.redact(r.description), erasing.redact(r.idempotency_key)
            if (description, key) != (r.description, r.idempotency_key):
                r.description, r.idempotency_key = description[:500], key[:255]
                erasing.counts["texts"] = erasing.counts.get("texts", 0) + 1

    def merge(self, session: Session, tenant_id: uuid.UUID, source: Member, target: Member) -> int:
        return 0


HOLDER = RedemptionsHolder()
