"""Small typed factories for tests."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from patron.auth.service import auth
from patron.checks import verify_all as verify
from patron.db.session import Database
from patron.ledger.verify import Violation
from patron.programs.schemas import ProgramDocument
from patron.programs.service import programs

_seq = itertools.count(1)


@dataclass
class Shop:
    tenant_id: uuid.UUID
    name: str
    key: str
    program_version: int | None


def create_shop(
    db: Database,
    *,
    now: datetime,
    program: dict[str, Any] | None = None,
    scopes: list[str] | None = None,
    publish: bool = True,
) -> Shop:
    name = f"shop-{uuid.uuid4().hex[:12]}"
    with db.unit_of_work() as session:
        tenant = auth.create_tenant(session, name=name, now=now)
        _, key = auth.create_key(
            session, tenant_id=tenant.tenant_id, name="test", now=now, scopes=scopes
        )
        version = None
        if publish:
            document = ProgramDocument(**{"currency": "USD", **(program or {})})
            version = programs.publish(
                session, tenant_id=tenant.tenant_id, document=document, now=now
            ).version
    return Shop(tenant_id=tenant.tenant_id, name=name, key=key, program_version=version)


def add_key(db: Database, shop: Shop, *, now: datetime, scopes: list[str] | None) -> str:
    with db.unit_of_work() as session:
        _, key = auth.create_key(
            session, tenant_id=shop.tenant_id, name="extra", now=now, scopes=scopes
        )
    return key


def event_id() -> str:
    return f"evt-{next(_seq)}-{uuid.uuid4().hex[:8]}"


def order_placed(
    customer: str,
    order_id: str,
    total: str,
    *,
    at: datetime,
    currency: str = "USD",
    email: str | None = None,
    id: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": id or event_id(),
        "type": "order.placed",
        "occurred_at": at.isoformat(),
        "customer": {"external_id": customer},
        "data": {"order_id": order_id, "currency": currency, "total": total, **data},
    }
    if email:
        body["customer"]["email"] = email
    return body


def order_refunded(
    customer: str,
    order_id: str,
    amount: str,
    *,
    at: datetime,
    id: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    return {
        "id": id or event_id(),
        "type": "order.refunded",
        "occurred_at": at.isoformat(),
        "customer": {"external_id": customer},
        "data": {"order_id": order_id, "amount": amount, **data},
    }


def order_cancelled(
    customer: str, order_id: str, *, at: datetime, id: str | None = None
) -> dict[str, Any]:
    return {
        "id": id or event_id(),
        "type": "order.cancelled",
        "occurred_at": at.isoformat(),
        "customer": {"external_id": customer},
        "data": {"order_id": order_id},
    }


def member_enrolled(
    customer: str, *, at: datetime, id: str | None = None, **data: Any
) -> dict[str, Any]:
    return {
        "id": id or event_id(),
        "type": "member.enrolled",
        "occurred_at": at.isoformat(),
        "customer": {"external_id": customer, "email": f"{customer}@example.com"},
        "data": data,
    }


def violations(db: Database, shop: Shop) -> list[Violation]:
    with db.unit_of_work() as session:
        return verify(session, shop.tenant_id)
