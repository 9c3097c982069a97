import typer

from patron.auth.models import ApiKey
from patron.auth.scopes import ALL_SCOPES
from patron.auth.service import MIN_PREFIX, PREFIX_LENGTH, auth
from patron.cli.common import EXIT_BAD_INPUT, CliError, console, now
from patron.cli.database import DbOption, database
from patron.cli.output import JsonOption, listing

app = typer.Typer(help="API keys: shown once, stored hashed.", no_args_is_help=True)

TenantOption = typer.Option(..., "--tenant", help="The tenant's name (`patron tenants list`).")
NAME_LENGTH = 100  # the column's width


@app.command("create", short_help="Create an API key and print it, once.")
def create(
    tenant: str = TenantOption,
    name: str = typer.Option(
        "default", "--name", help=f"A label for the key, up to {NAME_LENGTH} characters."
    ),
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
    """Create an API key and print it, once. The key is printed on stdout, alone on its line,
    and only now: only a hash of it is stored. Capture it, e.g. `export PATRON_API_KEY=$(patron
    keys create --tenant myshop)`."""
    name = name.strip()
    if not 1 <= len(name) <= NAME_LENGTH or not name.isprintable():
        raise CliError(
            f"--name is 1 to {NAME_LENGTH} printable characters, not {name!r}",
            code=EXIT_BAD_INPUT,
        )
    if publishable and scope:
        raise CliError("a publishable key has no --scope to choose", code=EXIT_BAD_INPUT)
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
    finally:
        db.dispose()
    print(secret)


def _row(key: ApiKey) -> dict[str, object]:
    return {
        "prefix": key.prefix,
        "name": key.name,
        "state": "revoked" if key.revoked_at else "active",
        "scopes": list(key.scopes),
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "id": key.id,
    }


@app.command("list", short_help="List a tenant's keys by prefix, with state and scopes.")
def list_(
    tenant: str = TenantOption, as_json: bool = JsonOption, database_url: str | None = DbOption
) -> None:
    """List a tenant's keys by prefix, with state and scopes. Oldest first: prefix (the key's
    first characters, never the rest), name, state, scopes, created and revoked times. A table
    at a terminal; piped, tab-separated lines under a header (scopes joined by commas, times in
    ISO 8601, empty for none); JSON with --json."""
    db = database(database_url)
    try:
        with db.unit_of_work() as session:
            found = auth.get_tenant_by_name(session, name=tenant)
            keys = auth.list_keys(session, tenant_id=found.tenant_id)
    finally:
        db.dispose()
    listing(
        [_row(key) for key in keys],
        columns=("prefix", "name", "state", "scopes", "created_at", "revoked_at"),
        as_json=as_json,
        empty=f"tenant {tenant!r} has no keys; create one with `patron keys create`",
    )


@app.command("revoke", short_help="Revoke a key, named by the whole key or its start.")
def revoke(
    key: str = typer.Argument(
        ...,
        metavar="KEY",
        help=f"The whole key, or its start: at least {MIN_PREFIX} and at most {PREFIX_LENGTH} "
        "characters, such as the prefix `keys list` shows.",
        show_default=False,
    ),
    tenant: str = TenantOption,
    database_url: str | None = DbOption,
) -> None:
    """Revoke a key, named by the whole key or its start. From now on the key authenticates
    nothing. Exit 0 when the key is revoked, also when it already was (it says since when, and
    keeps that time); exit 2 when no key of the tenant matches, or when the start given matches
    several (they are listed)."""
    db = database(database_url)
    try:
        with db.unit_of_work() as session:
            found = auth.get_tenant_by_name(session, name=tenant)
            revoked, newly = auth.revoke_key(
                session, tenant_id=found.tenant_id, prefix=key, now=now()
            )
    finally:
        db.dispose()
    assert revoked.revoked_at is not None
    what = f"key {revoked.prefix} ({revoked.name}) of tenant {tenant!r}"
    if newly:
        console.print(f"revoked {what}", markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(
            f"{what} was already revoked on {revoked.revoked_at:%Y-%m-%d %H:%M:%S} UTC; "
            "nothing changed",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
