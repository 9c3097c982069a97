"""The points ledger: double-entry, append-only postings, lots with expiry, cached balances."""
