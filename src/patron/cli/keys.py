import typer

from patron.auth.scopes import ALL_SCOPES
from patron.auth.service import auth
from patron.cli.common import DbOption, console, database, fail, now
from patron.errors import InvalidInput, PatronError

app = typer.Typer(help="API keys: shown once, stored hashed.", no_args_is_help=True)


@app.command("create")
def create(
    tenant: str = typer.Option(..., "--tenant", help="Tenant name."),
    name: str = typer.Option("default", "--name", help="A label for the key."),
    scope: list[str] = typer.Option(
        [], "--scope", help=f"Repeat to limit the key; default all of {', '.join(ALL_SCOPES)}."
    ),
    publishable: bool = typer.Option(
        False,
        "--publishable",
        help="A publishable key (pub_…) for the storefront, instead of a secret key: it reads "
        "only what is public, and with a member token one member's points.",
    ),
    database_url: str | None = DbOption,
) -> None:
    """Create an API key and print its secret (only now: it is not stored)."""
    if publishable and scope:
        raise fail(InvalidInput("a publishable key has no --scope to choose", field="scope"))
    db = database(database_url)
    try:
        with db.unit_of_work() as session:
            found = auth.get_tenant_by_name(session, name=tenant)
            if publishable:
                _, secret = auth.create_publishable_key(
                    session, tenant_id=found.tenant_id, name=name, now=now()
                )
            else:
                _, secret = auth.create_key(
                    session, tenant_id=found.tenant_id, name=name, now=now(), scopes=scope or None
                )
    except PatronError as exc:
        raise fail(exc) from None
    print(secret)


@app.command("list")
def list_(tenant: str = typer.Option(..., "--tenant"), database_url: str | None = DbOption) -> None:
    """List a tenant's keys (prefixes only)."""
    try:
        with database(database_url).unit_of_work() as session:
            found = auth.get_tenant_by_name(session, name=tenant)
            keys = auth.list_keys(session, tenant_id=found.tenant_id)
    except PatronError as exc:
        raise fail(exc) from None
    for key in keys:
        state = "revoked" if key.revoked_at else "active"
        console.print(f"{key.prefix}…\t{key.name}\t{state}\t{' '.join(key.scopes)}")


@app.command("revoke")
def revoke(
    prefix: str,
    tenant: str = typer.Option(..., "--tenant"),
    database_url: str | None = DbOption,
) -> None:
    """Revoke a key by the prefix `keys list` shows."""
    db = database(database_url)
    try:
        with db.unit_of_work() as session:
            found = auth.get_tenant_by_name(session, name=tenant)
            auth.revoke_key(
                session, tenant_id=found.tenant_id, prefix=prefix.rstrip("…"), now=now()
            )
    except PatronError as exc:
        raise fail(exc) from None
    console.print("revoked")
