import uuid
from collections.abc import Iterable
from functools import cache

from sqlalchemy import ColumnElement, Executable, String, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from patron.db.bulk import Op
from patron.ledger.engine import Book
from patron.ledger.repository import balance_columns
from patron.members.models import Member
from patron.members.state import MemberState


def get_by_external_id(
    session: Session, tenant_id: uuid.UUID, external_id: str, *, lock: bool = False
) -> Member | None:
    stmt = select(Member).where(Member.tenant_id == tenant_id, Member.external_id == external_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.execute(stmt).scalar_one_or_none()


def search(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    email: str | None,
    q: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[Member]:
    stmt = select(Member).where(Member.tenant_id == tenant_id)
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
    return list(session.execute(stmt.order_by(Member.id).limit(limit)).scalars())


_STATE_COLUMNS = (
    Member.id,
    Member.external_id,
    Member.status,
    Member.points_available,
    Member.points_pending,
    Member.points_lifetime,
    Member.orders_count,
    Member.total_spent,
    Member.first_order_at,
    Member.last_order_at,
)


def lock_states(
    session: Session, tenant_id: uuid.UUID, external_ids: Iterable[str]
) -> dict[str, MemberState]:
    """Lock members' rows (external-id order, the same for every caller, so that two batches
    cannot deadlock) and return their balances and statistics."""
    wanted = sorted(set(external_ids))
    if not wanted:
        return {}
    stmt = _lock_states_statement(session.get_bind().dialect.name)
    params = {"tenant": tenant_id, "ids": wanted}
    return {
        row.external_id: MemberState(
            id=row.id,
            external_id=row.external_id,
            status=row.status,
            book=Book(
                member_id=row.id,
                available=row.points_available,
                pending=row.points_pending,
                lifetime=row.points_lifetime,
            ),
            orders_count=row.orders_count,
            total_spent=row.total_spent,
            first_order_at=row.first_order_at,
            last_order_at=row.last_order_at,
        )
        for row in session.connection().execute(stmt, params)
    }


@cache
def _lock_states_statement(dialect: str) -> Executable:
    """Built once per dialect: it runs for every event, and building the expression costs
    more than running it."""
    match: ColumnElement[bool] = Member.external_id.in_(bindparam("ids", expanding=True))
    if dialect == "postgresql":  # one array parameter, whatever the number of ids
        match = Member.external_id == any_(bindparam("ids", type_=ARRAY(String)))
    return (
        select(*_STATE_COLUMNS)
        .where(Member.tenant_id == bindparam("tenant"), match)
        .order_by(Member.external_id)
        .with_for_update()
    )


def states_op(tenant_id: uuid.UUID, states: Iterable[MemberState]) -> Op:
    """Write back balances and statistics of changed members, and mark them written."""
    rows = []
    for m in states:
        if m.changed or m.book.changed:
            rows.append(
                dict(
                    tenant_id=tenant_id,
                    id=m.id,
                    **balance_columns(m.book),
                    orders_count=m.orders_count,
                    total_spent=m.total_spent,
                    first_order_at=m.first_order_at,
                    last_order_at=m.last_order_at,
                )
            )
            m.changed = m.book.changed = False
    return Op("update", Member.__table__, rows)
