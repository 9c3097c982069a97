import typer

from patron.auth.service import auth
from patron.cli.common import console, now
from patron.cli.database import DbOption, database
from patron.cli.output import JsonOption, listing

app = typer.Typer(help="Tenants: one per shop.", no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Argument(
        ..., metavar="NAME", help="The shop's name, 1 to 100 characters; unique."
    ),
    database_url: str | None = DbOption,
) -> None:
    """Create a tenant (a shop)."""
    db = database(database_url)
    try:
        with db.unit_of_work() as session:
            tenant = auth.create_tenant(session, name=name, now=now())
    finally:
        db.dispose()
    console.print(
        f"created tenant {tenant.name} ({tenant.tenant_id})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@app.command("list", short_help="List tenants.")
def list_(as_json: bool = JsonOption, database_url: str | None = DbOption) -> None:
    """List tenants, by name: name, id, published program version (none until one is
    published), created time. A table at a terminal; piped, tab-separated lines under a
    header; JSON with --json."""
    db = database(database_url)
    try:
        with db.unit_of_work() as session:
            rows = [
                {
                    "name": tenant.name,
                    "tenant_id": tenant.tenant_id,
                    "program_version": tenant.program_version,
                    "created_at": tenant.created_at,
                }
                for tenant in auth.list_tenants(session)
            ]
    finally:
        db.dispose()
    listing(
        rows,
        columns=("name", "tenant_id", "program_version", "created_at"),
        as_json=as_json,
        empty="no tenants yet; create one with `patron tenants create NAME`",
    )
