import typer
from rich.markup import escape

from patron.auth.service import auth
from patron.cli.common import DbOption, console, database, fail, now
from patron.errors import PatronError

app = typer.Typer(help="Tenants: one per shop.", no_args_is_help=True)


@app.command("create")
def create(name: str, database_url: str | None = DbOption) -> None:
    """Create a tenant (a shop)."""
    db = database(database_url)
    try:
        with db.unit_of_work() as session:
            tenant = auth.create_tenant(session, name=name, now=now())
    except PatronError as exc:
        raise fail(exc) from None
    console.print(f"created tenant [bold]{escape(tenant.name)}[/bold] ({tenant.tenant_id})")


@app.command("list")
def list_(database_url: str | None = DbOption) -> None:
    """List tenants."""
    with database(database_url).unit_of_work() as session:
        for tenant in auth.list_tenants(session):
            version = tenant.program_version or "-"
            console.print(f"{escape(tenant.name)}\t{tenant.tenant_id}\tprogram v{version}")
