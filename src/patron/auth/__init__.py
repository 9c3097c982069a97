"""Tenants (one shop each), API keys (hashed, scoped) and the authenticating dependency."""
