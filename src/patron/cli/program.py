"""`patron program`: load a program file (JSON or YAML) and show the program."""

import json
from pathlib import Path

import typer
import yaml
from pydantic import ValidationError

from patron.auth.service import auth
from patron.cli.common import EXIT_BAD_INPUT, CliError, console, now
from patron.cli.database import DbOption, database
from patron.orders import repository as orders
from patron.programs.schemas import ProgramDocument
from patron.programs.service import programs

app = typer.Typer(help="The shop's program: load a file, show a version.", no_args_is_help=True)

READ_ONLY = ("version", "published_at", "based_on", "saved_at")
TenantOption = typer.Option(..., "--tenant", help="The tenant's name (`patron tenants list`).")


def _read(path: Path) -> ProgramDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", code=EXIT_BAD_INPUT) from None
    try:
        document = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid"
        raise CliError(
            f"{path}: not valid YAML or JSON{where}: {problem}", code=EXIT_BAD_INPUT
        ) from None
    if not isinstance(document, dict):
        raise CliError(f"{path}: a program is a mapping of fields", code=EXIT_BAD_INPUT)
    # What `show` prints besides the document: read-only, ignored, so its output loads back.
    for key in READ_ONLY:
        document.pop(key, None)
    try:
        return ProgramDocument.model_validate(document)
    except ValidationError as exc:
        lines = []
        for e in exc.errors(include_url=False):
            at = ".".join(str(p) for p in e["loc"]) or (e.get("ctx") or {}).get("at", "")
            extra = (e.get("ctx") or {}).get("at")
            if extra and extra not in at:
                at = f"{at}.{extra}" if at else str(extra)
            lines.append(f"{at or 'program'}: {e['msg'].removeprefix('Value error, ')}")
        raise CliError(f"{path}: " + "; ".join(lines), code=EXIT_BAD_INPUT) from None


@app.command("load", short_help="Publish a program file (or save it as the draft).")
def load(
    file: Path = typer.Argument(..., metavar="FILE", help="A program in YAML or JSON."),
    tenant: str = TenantOption,
    draft: bool = typer.Option(False, "--draft", help="Save it as the draft, do not publish."),
    database_url: str | None = DbOption,
) -> None:
    """Validate FILE (YAML or JSON) as the program document and publish it as the tenant's next
    version, or keep it as the draft with --draft. Nothing changes if it is invalid."""
    document = _read(file)
    db = database(database_url)
    try:
        with db.unit_of_work() as session:
            found = auth.get_tenant_by_name(session, name=tenant)
            used = orders.other_currency(session, found.tenant_id, document.currency)
            if used is not None:
                raise CliError(
                    f"orders were reported in {used}: the currency cannot change",
                    code=EXIT_BAD_INPUT,
                )
            if draft:
                programs.save_draft(
                    session, tenant_id=found.tenant_id, document=document, now=now()
                )
                said = f"saved {document.name!r} as the draft of {tenant}"
            else:
                program = programs.publish(
                    session, tenant_id=found.tenant_id, document=document, now=now()
                )
                said = f"published {document.name!r} as version {program.version} of {tenant}"
    finally:
        db.dispose()
    console.print(f"{said} ({len(document.rules)} rules)", markup=False, highlight=False)


@app.command("show", short_help="Print the program (or a version, or the draft).")
def show(
    tenant: str = TenantOption,
    version: int | None = typer.Option(None, "--version", help="A published version number."),
    draft: bool = typer.Option(False, "--draft", help="The draft instead."),
    output: str = typer.Option("yaml", "--format", help="yaml or json."),
    database_url: str | None = DbOption,
) -> None:
    """Print the published program, a version of it, or the draft, as YAML (default) or JSON:
    a file `patron program load` takes back."""
    if output not in ("yaml", "json"):
        raise CliError(f"--format is yaml or json, not {output!r}", code=EXIT_BAD_INPUT)
    db = database(database_url)
    try:
        with db.unit_of_work() as session:
            found = auth.get_tenant_by_name(session, name=tenant)
            if draft:
                shown = programs.draft(session, tenant_id=found.tenant_id).model_dump(mode="json")
            else:
                number = version if version is not None else found.program_version
                if number is None:
                    raise CliError(f"{tenant} has no published program yet", code=EXIT_BAD_INPUT)
                shown = programs.version(
                    session, tenant_id=found.tenant_id, version=number
                ).model_dump(mode="json")
    finally:
        db.dispose()
    if output == "json":
        print(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        print(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True), end="")
