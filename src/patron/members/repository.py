import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import ColumnElement, String, and_, any_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from patron.db import bulk
from patron.db.bulk import Op
from patron.db.session import Retry
from patron.db.statements import AnySelect, Hot
from patron.ledger.assets import POINTS
from patron.ledger.engine import Book
from patron.ledger.models import Balance
from patron.ledger.repository import open_wallets_op
from patron.members.models import Member, MemberMerge
from patron.members.state import MemberState, Profile

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
    Member.merged_into,
    Balance.wallet_id,
    Balance.asset,
    Balance.available,
    Balance.pending,
    Balance.lifetime,
    # What rules read of the member's profile.
    Member.email,
    Member.name,
    Member.birthday,
    Member.enrolled_via,
    Member.enrolled_at,
    Member.accepts_marketing,
)


def lock_states(
    session: Session, tenant_id: uuid.UUID, external_ids: Iterable[str]
) -> dict[str, MemberState]:
    """Lock members' rows and their points wallets (external-id order, the same for every
    caller, so that two batches cannot deadlock) and return their balances and statistics.

    A merged duplicate's customer id maps to the state of the member it was merged into (the
    same object as that member's own entry), so that its events reach the survivor. Survivors
    this process has followed an id to before are locked with the rest, in order (`_SURVIVORS`);
    others are followed after (`_follow`)."""
    named = set(external_ids)
    if not named:
        return {}
    if _SURVIVORS:
        named |= {s for n in list(named) if (s := _SURVIVORS.get((tenant_id, n))) is not None}
    wanted = sorted(named)
    states: dict[str, MemberState] = {}
    aliases: dict[str, uuid.UUID] = {}
    for row in _LOCK_STATES.rows(session, {"tenant": tenant_id, "ids": wanted}):
        merged_into = row[7]
        if merged_into is not None:
            aliases[row[1]] = merged_into
            continue
        state = _state(row)
        states[state.external_id] = state
    if aliases:
        _follow(session, tenant_id, states, aliases, held=wanted)
        if len(_SURVIVORS) > _SURVIVORS_MAX:
            _SURVIVORS.clear()
        for alias in aliases:
            _SURVIVORS[(tenant_id, alias)] = states[alias].external_id
    return states


# (tenant, merged duplicate's id) -> the id of the member it was merged into, as last seen by
# this process. Only a hint of what to lock with the rest: a stale entry (the survivor merged
# or erased since) costs one needless lock, and `_follow` still finds the truth.
_SURVIVORS: dict[tuple[uuid.UUID, str], str] = {}
_SURVIVORS_MAX = 100_000


def _state(row: Sequence[Any]) -> MemberState:
    (id_, external_id, status, orders_count, total_spent, first_at, last_at) = row[:7]
    wallet_id, asset, available, pending, lifetime = row[8:13]
    email, name, birthday, enrolled_via, enrolled_at, accepts_marketing = row[13:]
    return MemberState(
        id=id_,
        external_id=external_id,
        status=status,
        book=Book(wallet_id, asset, available, pending, lifetime),
        orders_count=orders_count,
        total_spent=total_spent,
        first_order_at=first_at,
        last_order_at=last_at,
        profile=Profile(email, name, birthday, enrolled_via, enrolled_at, accepts_marketing),
    )


def _follow(
    session: Session,
    tenant_id: uuid.UUID,
    states: dict[str, MemberState],
    aliases: dict[str, uuid.UUID],
    *,
    held: list[str],
) -> None:
    """Map merged duplicates' ids to the members they were merged into, locking those.

    Off the hot path: only events naming a merged duplicate come here. The survivors are
    locked after the rows the batch holds, which breaks the external-id order when a survivor
    sorts before one of them. So they are taken without waiting first (SKIP LOCKED); one held
    elsewhere is waited for only if it sorts after everything this batch holds (the order is
    then kept); otherwise the unit of work starts again (`Retry`), holding nothing."""
    by_id = {s.id: s for s in states.values()}
    missing = sorted({t for t in aliases.values() if t not in by_id})
    if missing:
        for row in session.execute(_lock_by_id(tenant_id, missing, skip_locked=True)):
            by_id[row[0]] = states[row[1]] = _state(row)
        still = [t for t in missing if t not in by_id]
        if still:  # PostgreSQL only: SQLite has no row locks to skip
            before = session.execute(
                select(Member.id).where(
                    Member.tenant_id == tenant_id,
                    bulk.one_of(session, Member.id, still),
                    # In the database's own collation, which ordered the locks.
                    Member.external_id <= any_(bindparam("held", held, type_=ARRAY(String))),
                )
            ).first()
            if before is not None:
                raise Retry()
            for row in session.execute(_lock_by_id(tenant_id, still, skip_locked=False)):
                by_id[row[0]] = states[row[1]] = _state(row)
    for alias, target in aliases.items():
        states[alias] = by_id[target]


def _lock_by_id(tenant_id: uuid.UUID, ids: list[uuid.UUID], *, skip_locked: bool) -> AnySelect:
    return (
        select(*_STATE_COLUMNS)
        .join(Balance, _WALLET)
        .where(Member.tenant_id == tenant_id, Member.id.in_(ids))
        .order_by(Member.external_id)
        .with_for_update(skip_locked=skip_locked)
    )


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


# -- erasure, export, merges ----------------------------------------------------------------


def lock_members(session: Session, tenant_id: uuid.UUID, ids: Iterable[uuid.UUID]) -> list[Member]:
    """Lock members' rows in external-id order, the order ingestion locks them in."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    stmt = (
        select(Member)
        .where(Member.tenant_id == tenant_id, bulk.one_of(session, Member.id, wanted))
        .order_by(Member.external_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.execute(stmt).scalars())


def merged_into(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID) -> list[Member]:
    """The duplicates merged into a member, oldest first."""
    return list(
        session.execute(
            select(Member)
            .where(Member.tenant_id == tenant_id, Member.merged_into == member_id)
            .order_by(Member.id)
        ).scalars()
    )


def external_id_of(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID) -> str:
    return session.execute(
        select(Member.external_id).where(Member.tenant_id == tenant_id, Member.id == member_id)
    ).scalar_one()


def merge_by_key(session: Session, tenant_id: uuid.UUID, key: str) -> MemberMerge | None:
    return session.execute(
        select(MemberMerge).where(
            MemberMerge.tenant_id == tenant_id, MemberMerge.idempotency_key == key
        )
    ).scalar_one_or_none()


def merges_into(
    session: Session, tenant_id: uuid.UUID, member_ids: Iterable[uuid.UUID]
) -> list[MemberMerge]:
    """The merges into these members, oldest first."""
    ids = list(member_ids)
    if not ids:
        return []
    return list(
        session.execute(
            select(MemberMerge)
            .where(
                MemberMerge.tenant_id == tenant_id,
                bulk.one_of(session, MemberMerge.target_id, ids),
            )
            .order_by(MemberMerge.id)
        ).scalars()
    )


def merges_of(
    session: Session, tenant_id: uuid.UUID, member_ids: Iterable[uuid.UUID]
) -> list[MemberMerge]:
    """The merges these members took part in, either way."""
    ids = list(member_ids)
    if not ids:
        return []
    return list(
        session.execute(
            select(MemberMerge).where(
                MemberMerge.tenant_id == tenant_id,
                or_(
                    bulk.one_of(session, MemberMerge.target_id, ids),
                    bulk.one_of(session, MemberMerge.source_id, ids),
                ),
            )
        ).scalars()
    )


def repoint_merged(session: Session, tenant_id: uuid.UUID, old: uuid.UUID, new: uuid.UUID) -> None:
    """Members merged into `old` are merged into `new` now: aliases stay one step long."""
    session.execute(
        update(Member)
        .where(Member.tenant_id == tenant_id, Member.merged_into == old)
        .values(merged_into=new)
    )
