"""Invariants of the members table, checked by `patron verify-ledger` with the ledger's own
(the same SQL shape as `patron.ledger.verify.CHECKS`)."""

CHECKS: dict[str, str] = {
    "member_has_points_wallet": """
        SELECT m.tenant_id, 'member ' || m.external_id, 'it has no points wallet'
        FROM members m WHERE {m} AND NOT EXISTS (
            SELECT 1 FROM balances b WHERE b.tenant_id = m.tenant_id AND b.wallet_id = m.id
              AND b.asset = 'points')
    """,
    "member_tenant_exists": """
        SELECT m.tenant_id, 'member ' || m.external_id, 'its tenant does not exist'
        FROM members m WHERE {m} AND NOT EXISTS (
            SELECT 1 FROM tenants t WHERE t.tenant_id = m.tenant_id)
    """,
}
