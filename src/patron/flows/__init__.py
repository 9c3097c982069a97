"""Cross-domain stories: what an order placed, refunded or cancelled does to members, orders
and the ledger. Pure over in-memory state; the events service loads and writes."""
