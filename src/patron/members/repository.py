import uuid
from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import ColumnElement, String, and_, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from patron.db import bulk
from patron.db.bulk import Op
from patron.db.statements import AnySelect, Hot
from patron.ledger.assets import POINTS
from patron.ledger.engine import Book
from patron.ledger.models import Balance
from patron.ledger.repository import open_wallets_op
from patron.members.models import Member
from patron.members.state import MemberState

# A member's points wallet: the balances row with the member's id.
_WALLET = and_(
    Balance.tenant_id == Member.tenant_id, Balance.wallet_id == Member.id, Balance.asset == POINTS
)


def get_by_external_id(
    session: Session, tenant_id: uuid.UUID, external_id: str, *, lock: bool = False
) -> Member | None:
    stmt = select(Member).where(Member.tenant_id == tenant_id, Member.external_id == external_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.execute(stmt).scalar_one_or_none()


def balance_of(session: Session, member: Member) -> Balance:
    return session.execute(
        select(Balance).where(
            Balance.tenant_id == member.tenant_id,
            Balance.wallet_id == member.id,
            Balance.asset == POINTS,
        )
    ).scalar_one()


def search(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    email: str | None,
    q: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[tuple[Member, Balance]]:
    stmt = select(Member, Balance).join(Balance, _WALLET).where(Member.tenant_id == tenant_id)
    if email:
        stmt = stmt.where(Member.email_key == email.strip().lower())
    if q:
        prefix = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                Member.external_id.like(prefix, escape="\\"),
                Member.email_key.like(prefix.lower(), escape="\\"),
            )
        )
    if after is not None:
        stmt = stmt.where(Member.id > after)
    rows = session.execute(stmt.order_by(Member.id).limit(limit))
    return [(row[0], row[1]) for row in rows]


_STATE_COLUMNS = (
    Member.id,
    Member.external_id,
    Member.status,
    Member.orders_count,
    Member.total_spent,
    Member.first_order_at,
    Member.last_order_at,
    Balance.wallet_id,
    Balance.asset,
    Balance.available,
    Balance.pending,
    Balance.lifetime,
)


def lock_states(
    session: Session, tenant_id: uuid.UUID, external_ids: Iterable[str]
) -> dict[str, MemberState]:
    """Lock members' rows and their points wallets (external-id order, the same for every
    caller, so that two batches cannot deadlock) and return their balances and statistics."""
    wanted = sorted(set(external_ids))
    if not wanted:
        return {}
    states = {}
    for row in _LOCK_STATES.rows(session, {"tenant": tenant_id, "ids": wanted}):
        (id_, external_id, status, orders_count, total_spent, first_at, last_at) = row[:7]
        wallet_id, asset, available, pending, lifetime = row[7:]
        states[external_id] = MemberState(
            id=id_,
            external_id=external_id,
            status=status,
            book=Book(wallet_id, asset, available, pending, lifetime),
            orders_count=orders_count,
            total_spent=total_spent,
            first_order_at=first_at,
            last_order_at=last_at,
        )
    return states


def _lock_states_statement(dialect: str) -> AnySelect:
    match: ColumnElement[bool] = Member.external_id.in_(bindparam("ids", expanding=True))
    if dialect == "postgresql":  # one array parameter, whatever the number of ids
        match = Member.external_id == any_(bindparam("ids", type_=ARRAY(String)))
    return (
        select(*_STATE_COLUMNS)
        .join(Balance, _WALLET)
        .where(Member.tenant_id == bindparam("tenant"), match)
        .order_by(Member.external_id)
        .with_for_update()
    )


# Runs for every event (see patron.db.statements).
_LOCK_STATES = Hot(_lock_states_statement)


def states_op(tenant_id: uuid.UUID, states: Iterable[MemberState]) -> Op:
    """Write back the order statistics of changed members, and mark them written. (Their
    balances are the ledger's to write.)"""
    rows = []
    for m in states:
        if m.changed:
            rows.append(
                dict(
                    tenant_id=tenant_id,
                    id=m.id,
                    orders_count=m.orders_count,
                    total_spent=m.total_spent,
                    first_order_at=m.first_order_at,
                    last_order_at=m.last_order_at,
                )
            )
            m.changed = False
    return Op("update", Member.__table__, rows)


def enrol(session: Session, rows: list[dict[str, Any]]) -> dict[str, uuid.UUID]:
    """Insert the members of `rows` that do not exist yet and open their points wallets.
    Returns external id -> id of those inserted."""
    if not rows:
        return {}
    ids = {r["external_id"]: r["id"] for r in rows}
    if session.get_bind().dialect.name == "postgresql":
        # One round trip: the wallets are opened from what the member insert returns.
        statement = _ENROL.format(
            columns=", ".join(rows[0]), values=", ".join(f"v.{c}" for c in rows[0])
        )
        [(inserted,)] = bulk.raw(session, statement, [orjson.dumps(rows).decode()], rows=len(rows))
        names = inserted or []
    else:
        op = Op(
            "insert_ignore",
            Member.__table__,
            rows,
            conflict=("tenant_id", "external_id"),
            returning="external_id",
        )
        bulk.execute(session, [op])
        names = op.result
        tenant_id = rows[0]["tenant_id"]
        bulk.execute(session, [open_wallets_op(tenant_id, [(ids[n], POINTS) for n in names])])
    return {n: ids[n] for n in names}


_ENROL = """
WITH m AS (
    INSERT INTO members ({columns})
    SELECT {values}
    FROM jsonb_populate_recordset(NULL::members, $1::jsonb) AS v
    ON CONFLICT (tenant_id, external_id) DO NOTHING
    RETURNING tenant_id, id, external_id
), w AS (
    INSERT INTO balances (tenant_id, wallet_id, asset, available, pending, lifetime)
    SELECT tenant_id, id, 'points', 0, 0, 0 FROM m
)
SELECT array_agg(external_id) FROM m
"""
