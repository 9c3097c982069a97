"""Alembic environment. Run through `patron migrate` (see patron.db.migrate)."""

from alembic import context

from patron.db.engine import make_engine
from patron.models import metadata

config = context.config


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True
    )
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite changes a table by rebuilding it: copy, drop the old one, rename the copy.
        # Dropping a table other tables refer to breaks their foreign keys for a moment, so
        # the checks are off while migrating (SQLite's documented procedure; the pragma only
        # works outside a transaction) and every reference is verified afterwards.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
    if sqlite:
        broken = connection.connection.driver_connection.execute(
            "PRAGMA foreign_key_check"
        ).fetchall()
        if broken:
            raise RuntimeError(f"the migration left rows that refer to nothing: {broken[:5]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
