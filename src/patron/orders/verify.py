"""Invariants of the orders table, checked by `patron verify-ledger` with the ledger's own
(the same SQL shape as `patron.ledger.verify.CHECKS`)."""

CHECKS: dict[str, str] = {
    "order_reversal_within_earned": """
        SELECT tenant_id, 'order ' || order_id,
               'reversed ' || CAST(points_reversed AS TEXT) || ' of '
               || CAST(points_earned AS TEXT) || ' earned'
        FROM orders
        WHERE {_}
          AND (points_reversed < 0 OR points_reversed > points_earned
               OR refunded < 0 OR refunded > total)
    """,
    "order_member_exists": """
        SELECT o.tenant_id, 'order ' || o.order_id, 'its member does not exist'
        FROM orders o WHERE {o} AND o.member_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM members m WHERE m.tenant_id = o.tenant_id AND m.id = o.member_id)
    """,
}
