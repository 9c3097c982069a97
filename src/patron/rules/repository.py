import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from patron.db import bulk
from patron.db.bulk import Op
from patron.rules.models import RuleBudget, RuleUsage

UsageRow = tuple[uuid.UUID, str, str]  # member, rule, period


def usage(
    session: Session,
    tenant_id: uuid.UUID,
    member_ids: Sequence[uuid.UUID],
    rule_ids: Sequence[str],
    periods: Sequence[str],
) -> dict[UsageRow, tuple[int, int]]:
    """The counters of these members and rules in these periods (a period also matches its
    per-value counters: "day:2026-11-23" finds "day:2026-11-23:instagram"). The members are
    locked by the caller, which serialises every writer of their rows."""
    if not member_ids or not rule_ids or not periods:
        return {}
    matches: list[ColumnElement[bool]] = [RuleUsage.period.in_(sorted(set(periods)))]
    matches += [RuleUsage.period.startswith(p + ":", autoescape=True) for p in sorted(set(periods))]
    stmt = select(
        RuleUsage.member_id, RuleUsage.rule_id, RuleUsage.period, RuleUsage.count, RuleUsage.points
    ).where(
        RuleUsage.tenant_id == tenant_id,
        bulk.one_of(session, RuleUsage.member_id, sorted(set(member_ids))),
        bulk.one_of(session, RuleUsage.rule_id, sorted(set(rule_ids))),
        or_(*matches),
    )
    return {(r[0], r[1], r[2]): (r[3], r[4]) for r in session.execute(stmt)}


def lock_budgets(session: Session, tenant_id: uuid.UUID, rule_ids: Sequence[str]) -> dict[str, int]:
    """What these budgeted rules spent, locked (rows created at 0 first, so there is a row to
    lock), in rule-id order."""
    if not rule_ids:
        return {}
    ids = sorted(set(rule_ids))
    bulk.execute(
        session,
        [
            Op(
                "insert_ignore",
                RuleBudget.__table__,
                [dict(tenant_id=tenant_id, rule_id=r, spent=0) for r in ids],
                conflict=("tenant_id", "rule_id"),
            )
        ],
    )
    stmt = (
        select(RuleBudget.rule_id, RuleBudget.spent)
        .where(RuleBudget.tenant_id == tenant_id, bulk.one_of(session, RuleBudget.rule_id, ids))
        .order_by(RuleBudget.rule_id)
        .with_for_update()
    )
    return {r.rule_id: r.spent for r in session.execute(stmt)}


def usage_op(tenant_id: uuid.UUID, rows: Iterable[tuple[UsageRow, tuple[int, int]]]) -> Op:
    return Op(
        "upsert",
        RuleUsage.__table__,
        [
            dict(tenant_id=tenant_id, member_id=m, rule_id=r, period=p, count=c, points=pts)
            for (m, r, p), (c, pts) in sorted(rows, key=lambda kv: (str(kv[0][0]), *kv[0][1:]))
        ],
        conflict=("tenant_id", "member_id", "rule_id", "period"),
    )


def budgets_op(tenant_id: uuid.UUID, spent: Iterable[tuple[str, int]]) -> Op:
    return Op(
        "update",
        RuleBudget.__table__,
        [dict(tenant_id=tenant_id, rule_id=r, spent=s) for r, s in sorted(spent)],
        key=("tenant_id", "rule_id"),
    )
