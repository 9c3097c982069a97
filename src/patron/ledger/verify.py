"""The ledger's invariants, checked in SQL over every row, for every asset. Used by
`patron verify-ledger` and by the tests, so the property tests check exactly what operators
check."""

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import TextClause, Uuid, bindparam, or_, select, text
from sqlalchemy.orm import Session

from patron.ledger.assets import Kind
from patron.ledger.models import Balance, Posting


@dataclass(frozen=True)
class Violation:
    check: str
    tenant_id: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] tenant {self.tenant_id} {self.subject}: {self.detail}"


_WALLET = "'wallet ' || CAST(b.wallet_id AS TEXT) || ' (' || b.asset || ')'"


# Each query returns (tenant_id, subject, detail) for every row that breaks the invariant.
def _cached_matches_entries(account: str) -> str:
    """A wallet's cached balance of `account` equals the sum of its entries."""
    return f"""
        SELECT b.tenant_id, {_WALLET},
               'cached {account} ' || CAST(b.{account} AS TEXT) || ' but entries sum to '
               || CAST(COALESCE(s.total, 0) AS TEXT)
        FROM balances b LEFT JOIN (
            SELECT tenant_id, wallet_id, SUM(amount) AS total FROM entries
            WHERE account = '{account}' AND {{_}} GROUP BY tenant_id, wallet_id) s
          ON s.tenant_id = b.tenant_id AND s.wallet_id = b.wallet_id
        WHERE {{b}}
          AND b.{account} <> COALESCE(s.total, 0)
    """


def _lots_match_balance(state: str, balance: str) -> str:
    return f"""
        SELECT b.tenant_id, {_WALLET},
               '{state} lots hold ' || CAST(COALESCE(l.total, 0) AS TEXT)
               || ' but the {state} balance is ' || CAST(b.{state} AS TEXT)
        FROM balances b LEFT JOIN (
            SELECT tenant_id, wallet_id, SUM(remaining) AS total FROM lots
            WHERE state = '{state}' AND {{_}} GROUP BY tenant_id, wallet_id) l
          ON l.tenant_id = b.tenant_id AND l.wallet_id = b.wallet_id
        WHERE {{b}}
          AND COALESCE(l.total, 0) <> {balance}
    """


# `{b}`, `{e}`...: the tenant filter on that alias (`{_}`: unqualified), filled in by _scoped,
# inside the aggregates too, so checking one tenant reads only that tenant's rows.
CHECKS: dict[str, str] = {
    # Per asset: a posting and its entries name one asset, and the entries sum to zero.
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
    "one_asset_per_posting": """
        SELECT p.tenant_id, 'posting ' || CAST(p.id AS TEXT),
               'a ' || p.asset || ' posting has an entry in ' || e.asset
        FROM postings p JOIN entries e ON e.tenant_id = p.tenant_id AND e.posting_id = p.id
        WHERE {p} AND e.asset <> p.asset
        UNION ALL
        SELECT p.tenant_id, 'posting ' || CAST(p.id AS TEXT),
               'a ' || p.asset || ' posting on a ' || b.asset || ' wallet'
        FROM postings p JOIN balances b ON b.tenant_id = p.tenant_id AND b.wallet_id = p.wallet_id
        WHERE {p} AND b.asset <> p.asset
        UNION ALL
        SELECT l.tenant_id, 'lot ' || CAST(l.id AS TEXT),
               'a ' || l.asset || ' lot in a ' || b.asset || ' wallet'
        FROM lots l JOIN balances b ON b.tenant_id = l.tenant_id AND b.wallet_id = l.wallet_id
        WHERE {l} AND b.asset <> l.asset
    """,
    "available_matches_entries": _cached_matches_entries("available"),
    "pending_matches_entries": _cached_matches_entries("pending"),
    "lifetime_matches_entries": f"""
        SELECT b.tenant_id, {_WALLET},
               'cached lifetime ' || CAST(b.lifetime AS TEXT) || ' but issued entries say '
               || CAST(COALESCE(s.total, 0) AS TEXT)
        FROM balances b LEFT JOIN (
            SELECT p.tenant_id, p.wallet_id, -SUM(e.amount) AS total
            FROM entries e JOIN postings p ON p.tenant_id = e.tenant_id AND p.id = e.posting_id
            WHERE e.account = 'issued' AND {{e}} GROUP BY p.tenant_id, p.wallet_id) s
          ON s.tenant_id = b.tenant_id AND s.wallet_id = b.wallet_id
        WHERE {{b}}
          AND b.lifetime <> COALESCE(s.total, 0)
    """,
    "available_lots_match_balance": _lots_match_balance(
        "available", "CASE WHEN b.available > 0 THEN b.available ELSE 0 END"
    ),
    "pending_lots_match_balance": _lots_match_balance("pending", "b.pending"),
    "lot_within_bounds": """
        SELECT tenant_id, 'lot ' || CAST(id AS TEXT),
               'remaining ' || CAST(remaining AS TEXT) || ' of ' || CAST(amount AS TEXT)
        FROM lots
        WHERE {_}
          AND (remaining < 0 OR remaining > amount)
    """,
    "lot_uses_match_lots": """
        SELECT l.tenant_id, 'lot ' || CAST(l.id AS TEXT),
               'amount ' || CAST(l.amount AS TEXT) || ' - used '
               || CAST(COALESCE(u.used, 0) AS TEXT) || ' <> remaining '
               || CAST(l.remaining AS TEXT)
        FROM lots l LEFT JOIN (
            SELECT tenant_id, lot_id, SUM(amount) AS used FROM lot_uses
            WHERE {_} GROUP BY tenant_id, lot_id) u
          ON u.tenant_id = l.tenant_id AND u.lot_id = l.id
        WHERE {l}
          AND l.amount - COALESCE(u.used, 0) <> l.remaining
    """,
    # The clearing account of transfers: each transfer moves through it and back out, so in
    # each tenant and asset it sums to zero (a missing half of a transfer shows here).
    "transfers_net_to_zero": """
        SELECT e.tenant_id, 'asset ' || e.asset,
               'transferred entries sum to ' || CAST(SUM(e.amount) AS TEXT)
        FROM entries e
        WHERE {e} AND e.account = 'transferred'
        GROUP BY e.tenant_id, e.asset
        HAVING SUM(e.amount) <> 0
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
            SELECT e.tenant_id, 'entry ' || CAST(e.id AS TEXT), 'its wallet does not exist'
            FROM entries e WHERE {e} AND e.wallet_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM balances b
                WHERE b.tenant_id = e.tenant_id AND b.wallet_id = e.wallet_id)
            UNION ALL
            SELECT p.tenant_id, 'posting ' || CAST(p.id AS TEXT), 'its wallet does not exist'
            FROM postings p WHERE {p} AND NOT EXISTS (SELECT 1 FROM balances b
                WHERE b.tenant_id = p.tenant_id AND b.wallet_id = p.wallet_id)
            UNION ALL
            SELECT l.tenant_id, 'lot ' || CAST(l.id AS TEXT),
                   'its wallet or posting does not exist'
            FROM lots l WHERE {l} AND (
                NOT EXISTS (SELECT 1 FROM balances b
                    WHERE b.tenant_id = l.tenant_id AND b.wallet_id = l.wallet_id)
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
        ) x
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


def verify(
    session: Session, tenant_id: uuid.UUID | None = None, *, extra: dict[str, str] | None = None
) -> list[Violation]:
    """Every violation of the ledger's invariants, in one tenant or in all. `extra` adds
    checks written the same way by the domains that own rows the ledger refers to."""
    violations: list[Violation] = []
    for name, sql in {**CHECKS, **(extra or {})}.items():
        for row in session.execute(_scoped(sql, tenant_id)):
            # SQLite hands back a raw text query's uuid as 32 hex digits: print it as a UUID.
            tenant = str(uuid.UUID(str(row[0])))
            violations.append(Violation(name, tenant, str(row[1]), str(row[2])))
    violations += _negative_without_debt(session, tenant_id)
    violations += _transfers_paired(session, tenant_id)
    return violations


def _negative_without_debt(session: Session, tenant_id: uuid.UUID | None) -> list[Violation]:
    """Pending is never below zero; available only in a wallet where a posting recorded
    taking it into debt (`into_debt` in its detail: a claw-back, a removal under the debt
    policy, or a debt transferred in)."""
    stmt = select(
        Balance.tenant_id, Balance.wallet_id, Balance.asset, Balance.available, Balance.pending
    ).where(or_(Balance.available < 0, Balance.pending < 0))
    if tenant_id is not None:
        stmt = stmt.where(Balance.tenant_id == tenant_id)
    out = []
    for row in session.execute(stmt):
        subject = f"wallet {row.wallet_id} ({row.asset})"
        if row.pending < 0:
            out.append(
                Violation(
                    "no_negative_balance",
                    str(row.tenant_id),
                    subject,
                    f"pending balance {row.pending} is below zero",
                )
            )
            continue
        if row.available >= 0:
            continue
        details = session.execute(
            select(Posting.detail).where(
                Posting.tenant_id == row.tenant_id,
                Posting.wallet_id == row.wallet_id,
                Posting.kind.in_((Kind.CLAW_BACK, Kind.ADJUST, Kind.TRANSFER)),
            )
        ).scalars()
        if not any((d or {}).get("into_debt", 0) > 0 for d in details):
            out.append(
                Violation(
                    "no_negative_balance",
                    str(row.tenant_id),
                    subject,
                    f"available balance {row.available} is below zero, but no posting took "
                    "it into debt",
                )
            )
    return out


def _transfers_paired(session: Session, tenant_id: uuid.UUID | None) -> list[Violation]:
    """Every transfer posting has its counterpart: the other half of the same transfer, in the
    same asset, on another wallet, naming it back, moving the opposite amount. (Transfers are
    rare, one pair per merge, so they are read whole.)"""
    stmt = select(
        Posting.tenant_id,
        Posting.id,
        Posting.wallet_id,
        Posting.asset,
        Posting.amount,
        Posting.detail,
    ).where(Posting.kind == Kind.TRANSFER)
    if tenant_id is not None:
        stmt = stmt.where(Posting.tenant_id == tenant_id)
    rows = {(row.tenant_id, str(row.id)): row for row in session.execute(stmt)}
    out = []
    for (tenant, posting_id), row in rows.items():
        detail = row.detail or {}
        other = rows.get((tenant, str(detail.get("counterpart"))))
        wrong = None
        if other is None:
            wrong = "its counterpart posting is missing"
        elif (other.detail or {}).get("counterpart") != posting_id:
            wrong = f"its counterpart {other.id} names another posting"
        elif other.asset != row.asset or other.wallet_id == row.wallet_id:
            wrong = f"its counterpart {other.id} is not another wallet in {row.asset}"
        elif other.amount != -row.amount:
            wrong = f"moves {row.amount} but its counterpart {other.id} moves {other.amount}"
        if wrong:
            out.append(Violation("transfer_paired", str(tenant), f"posting {posting_id}", wrong))
    return out
