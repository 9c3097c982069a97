"""Storage: declarative base, engines for SQLite and PostgreSQL, units of work, migrations."""
