"""Spending points. Catalog rewards and codes build on this in the rewards domain."""
