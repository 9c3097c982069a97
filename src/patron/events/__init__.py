"""Events: immutable facts from the shop, stored once per (tenant, sender's id)."""
