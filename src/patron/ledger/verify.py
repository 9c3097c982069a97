"""The ledger's invariants, checked in SQL over every row. Used by `patron verify-ledger` and
by the tests, so the property tests check exactly what operators check."""

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import TextClause, Uuid, bindparam, or_, select, text
from sqlalchemy.orm import Session

from patron.ledger.models import Posting
from patron.members.models import Member
from patron.programs.models import ProgramVersion


@dataclass(frozen=True)
class Violation:
    check: str
    tenant_id: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] tenant {self.tenant_id} {self.subject}: {self.detail}"


# Each query returns (tenant_id, subject, detail) for every row that breaks the invariant.
def _cached_matches_entries(account: str) -> str:
    """A member's cached balance of `account` equals the sum of its entries."""
    return f"""
        SELECT m.tenant_id, 'member ' || m.external_id,
               'cached {account} ' || CAST(m.points_{account} AS TEXT) || ' but entries sum to '
               || CAST(COALESCE(s.total, 0) AS TEXT)
        FROM members m LEFT JOIN (
            SELECT tenant_id, member_id, SUM(amount) AS total FROM entries
            WHERE account = '{account}' AND {{_}} GROUP BY tenant_id, member_id) s
          ON s.tenant_id = m.tenant_id AND s.member_id = m.id
        WHERE {{m}}
          AND m.points_{account} <> COALESCE(s.total, 0)
    """


# `{m}`, `{e}`...: the tenant filter on that alias (`{_}`: unqualified), filled in by _scoped,
# inside the aggregates too, so checking one tenant reads only that tenant's rows.
CHECKS: dict[str, str] = {
    "posting_balanced": """
        SELECT p.tenant_id, 'posting ' || CAST(p.id AS TEXT),
               'entries sum to ' || CAST(COALESCE(SUM(e.amount), 0) AS TEXT)
               || ' over ' || CAST(COUNT(e.id) AS TEXT) || ' entries'
        FROM postings p LEFT JOIN entries e
          ON e.tenant_id = p.tenant_id AND e.posting_id = p.id
        WHERE {p}
        GROUP BY p.tenant_id, p.id
        HAVING COALESCE(SUM(e.amount), 0) <> 0 OR COUNT(e.id) < 2
    """,
    "available_matches_entries": _cached_matches_entries("available"),
    "pending_matches_entries": _cached_matches_entries("pending"),
    "lifetime_matches_entries": """
        SELECT m.tenant_id, 'member ' || m.external_id,
               'cached lifetime ' || CAST(m.points_lifetime AS TEXT) || ' but issued entries say '
               || CAST(COALESCE(s.total, 0) AS TEXT)
        FROM members m LEFT JOIN (
            SELECT p.tenant_id, p.member_id, -SUM(e.amount) AS total
            FROM entries e JOIN postings p ON p.tenant_id = e.tenant_id AND p.id = e.posting_id
            WHERE e.account = 'issued' AND {e} GROUP BY p.tenant_id, p.member_id) s
          ON s.tenant_id = m.tenant_id AND s.member_id = m.id
        WHERE {m}
          AND m.points_lifetime <> COALESCE(s.total, 0)
    """,
    "available_lots_match_balance": """
        SELECT m.tenant_id, 'member ' || m.external_id,
               'available lots hold ' || CAST(COALESCE(l.total, 0) AS TEXT)
               || ' but the available balance is ' || CAST(m.points_available AS TEXT)
        FROM members m LEFT JOIN (
            SELECT tenant_id, member_id, SUM(remaining) AS total FROM lots
            WHERE state = 'available' AND {_} GROUP BY tenant_id, member_id) l
          ON l.tenant_id = m.tenant_id AND l.member_id = m.id
        WHERE {m}
          AND COALESCE(l.total, 0) <> CASE WHEN m.points_available > 0
                                          THEN m.points_available ELSE 0 END
    """,
    "pending_lots_match_balance": """
        SELECT m.tenant_id, 'member ' || m.external_id,
               'pending lots hold ' || CAST(COALESCE(l.total, 0) AS TEXT)
               || ' but the pending balance is ' || CAST(m.points_pending AS TEXT)
        FROM members m LEFT JOIN (
            SELECT tenant_id, member_id, SUM(remaining) AS total FROM lots
            WHERE state = 'pending' AND {_} GROUP BY tenant_id, member_id) l
          ON l.tenant_id = m.tenant_id AND l.member_id = m.id
        WHERE {m}
          AND COALESCE(l.total, 0) <> m.points_pending
    """,
    "lot_within_bounds": """
        SELECT tenant_id, 'lot ' || CAST(id AS TEXT),
               'remaining ' || CAST(remaining AS TEXT) || ' of ' || CAST(points AS TEXT)
        FROM lots
        WHERE {_}
          AND (remaining < 0 OR remaining > points)
    """,
    "lot_uses_match_lots": """
        SELECT l.tenant_id, 'lot ' || CAST(l.id AS TEXT),
               'points ' || CAST(l.points AS TEXT) || ' - used '
               || CAST(COALESCE(u.used, 0) AS TEXT) || ' <> remaining '
               || CAST(l.remaining AS TEXT)
        FROM lots l LEFT JOIN (
            SELECT tenant_id, lot_id, SUM(points) AS used FROM lot_uses
            WHERE {_} GROUP BY tenant_id, lot_id) u
          ON u.tenant_id = l.tenant_id AND u.lot_id = l.id
        WHERE {l}
          AND l.points - COALESCE(u.used, 0) <> l.remaining
    """,
    # The hot tables declare no foreign keys (see patron.ledger.models): their references
    # are checked here instead.
    "references_exist": """
        SELECT x.tenant_id, x.subject, x.detail FROM (
            SELECT e.tenant_id, 'entry ' || CAST(e.id AS TEXT) AS subject,
                   'its posting does not exist' AS detail
            FROM entries e WHERE {e} AND NOT EXISTS (SELECT 1 FROM postings p
                WHERE p.tenant_id = e.tenant_id AND p.id = e.posting_id)
            UNION ALL
            SELECT p.tenant_id, 'posting ' || CAST(p.id AS TEXT), 'its member does not exist'
            FROM postings p WHERE {p} AND NOT EXISTS (SELECT 1 FROM members m
                WHERE m.tenant_id = p.tenant_id AND m.id = p.member_id)
            UNION ALL
            SELECT l.tenant_id, 'lot ' || CAST(l.id AS TEXT),
                   'its member or posting does not exist'
            FROM lots l WHERE {l} AND (
                NOT EXISTS (SELECT 1 FROM members m
                    WHERE m.tenant_id = l.tenant_id AND m.id = l.member_id)
                OR NOT EXISTS (SELECT 1 FROM postings p
                    WHERE p.tenant_id = l.tenant_id AND p.id = l.posting_id))
            UNION ALL
            SELECT u.tenant_id, 'use of lot ' || CAST(u.lot_id AS TEXT),
                   'its lot or posting does not exist'
            FROM lot_uses u WHERE {u} AND (
                NOT EXISTS (SELECT 1 FROM lots l
                    WHERE l.tenant_id = u.tenant_id AND l.id = u.lot_id)
                OR NOT EXISTS (SELECT 1 FROM postings p
                    WHERE p.tenant_id = u.tenant_id AND p.id = u.posting_id))
            UNION ALL
            SELECT o.tenant_id, 'order ' || o.order_id, 'its member does not exist'
            FROM orders o WHERE {o} AND o.member_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM members m WHERE m.tenant_id = o.tenant_id AND m.id = o.member_id)
            UNION ALL
            SELECT m.tenant_id, 'member ' || m.external_id, 'its tenant does not exist'
            FROM members m WHERE {m} AND NOT EXISTS (
                SELECT 1 FROM tenants t WHERE t.tenant_id = m.tenant_id)
        ) x
    """,
    "order_reversal_within_earned": """
        SELECT tenant_id, 'order ' || order_id,
               'reversed ' || CAST(points_reversed AS TEXT) || ' of '
               || CAST(points_earned AS TEXT) || ' earned'
        FROM orders
        WHERE {_}
          AND (points_reversed < 0 OR points_reversed > points_earned
               OR refunded < 0 OR refunded > total)
    """,
}


def _scoped(sql: str, tenant_id: uuid.UUID | None) -> TextClause:
    aliases = set(re.findall(r"\{(\w+)\}", sql))
    scope = {
        a: (
            "1 = 1"
            if tenant_id is None
            else ("tenant_id" if a == "_" else f"{a}.tenant_id") + " = :tenant"
        )
        for a in aliases
    }
    stmt = text(sql.format(**scope))
    if tenant_id is not None:
        stmt = stmt.bindparams(bindparam("tenant", tenant_id, type_=Uuid()))
    return stmt


def verify(session: Session, tenant_id: uuid.UUID | None = None) -> list[Violation]:
    """Every violation of the ledger's invariants, in one tenant or in all."""
    violations: list[Violation] = []
    for name, sql in CHECKS.items():
        for row in session.execute(_scoped(sql, tenant_id)):
            # SQLite hands back a raw text query's uuid as 32 hex digits: print it as a UUID.
            tenant = str(uuid.UUID(str(row[0])))
            violations.append(Violation(name, tenant, str(row[1]), str(row[2])))
    violations += _negative_without_debt_policy(session, tenant_id)
    return violations


def _negative_without_debt_policy(session: Session, tenant_id: uuid.UUID | None) -> list[Violation]:
    """A balance below zero is allowed only where a posting made under a program version
    with the `debt` policy took it there. Pending can never be negative."""
    stmt = select(
        Member.tenant_id,
        Member.id,
        Member.external_id,
        Member.points_available,
        Member.points_pending,
    ).where(or_(Member.points_available < 0, Member.points_pending < 0))
    if tenant_id is not None:
        stmt = stmt.where(Member.tenant_id == tenant_id)
    out = []
    for row in session.execute(stmt):
        if row.points_pending < 0:
            out.append(
                Violation(
                    "no_negative_balance",
                    str(row.tenant_id),
                    f"member {row.external_id}",
                    f"pending balance {row.points_pending} is below zero",
                )
            )
            continue
        if row.points_available >= 0:
            continue
        versions = session.execute(
            select(ProgramVersion.document)
            .join(
                Posting,
                (Posting.tenant_id == ProgramVersion.tenant_id)
                & (Posting.program_version == ProgramVersion.version),
            )
            .where(
                Posting.tenant_id == row.tenant_id,
                Posting.member_id == row.id,
                Posting.kind.in_(("claw_back", "adjust")),
            )
            .distinct()
        ).scalars()
        if not any(doc.get("negative_balance") == "debt" for doc in versions):
            out.append(
                Violation(
                    "no_negative_balance",
                    str(row.tenant_id),
                    f"member {row.external_id}",
                    f"available balance {row.points_available} is below zero, but no posting "
                    "was made under the debt policy",
                )
            )
    return out
