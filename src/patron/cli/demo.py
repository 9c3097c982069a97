"""`patron demo`: a shop with a year of history on a SQLite file, served on localhost.

The history goes through the same code as production traffic: events through the ingestion
service in batches, vesting and expiry through the scheduled jobs, adjustments and
redemptions through their services. A frozen clock moves forward one day at a time and the
jobs run at every step, so points sit in the two-week return window, vest, and expire a year
after they were earned, as they would in a real shop.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from patron.auth.models import Tenant
from patron.auth.service import auth
from patron.checks import verify_all as verify
from patron.cli import demo_shop as shop
from patron.cli.common import (
    browsable_url,
    check_can_listen,
    console,
    err_console,
    now,
)
from patron.cli.database import migrate_to_head
from patron.db.session import Database
from patron.engagement.tasks import birthdays
from patron.events.schemas import EventBase
from patron.ingest.pipeline import pipeline
from patron.kit.clock import FrozenClock
from patron.ledger.models import Balance, Posting
from patron.ledger.service import ledger
from patron.ledger.tasks import tasks
from patron.ledger.verify import Violation
from patron.members.errors import MemberNotFound
from patron.members.models import Member
from patron.members.schemas import MemberStatus
from patron.members.service import members
from patron.orders.models import Order
from patron.programs.schemas import Program
from patron.programs.service import programs
from patron.redemptions.schemas import RedemptionCreate
from patron.redemptions.service import redemptions

DEFAULT_URL = "sqlite:///./patron-demo.db"
BATCH = 1000  # the most POST /v1/events/batch takes
# Events this close together are sent as one batch, received when the last one happened, as
# a shop that syncs in batches would. Wider would make members enrol visibly after their
# first order; narrower would make a large demo slow.
BATCH_WINDOW = timedelta(hours=1)


def demo(
    members_count: int = typer.Option(300, "--members", min=1, max=10_000, help="Customers."),
    seed: int = typer.Option(42, help="Same seed, same shop."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (0.0.0.0: all of them)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the API afterwards."),
    # No PATRON_DATABASE_URL fallback on purpose: the demo must never write into the
    # database a shell happens to point at.
    database_url: str = typer.Option(
        DEFAULT_URL,
        "--database-url",
        metavar="URL",
        help="Where to build it. PATRON_DATABASE_URL is not read: the demo never writes into "
        "the database a shell points at.",
    ),
) -> None:
    """Build a demo shop with a year of history on a SQLite file, then serve it."""
    if serve:
        check_can_listen(host, port)  # before the build, not after it
    migrate_to_head(database_url)
    db = Database(database_url)
    try:
        tenant_id = _existing(db)
        if tenant_id is None:
            tenant_id = _build(db, members_count=members_count, seed=seed)
        else:
            console.print(
                f"tenant [bold]{shop.TENANT}[/bold] exists in {_where(database_url)}: reusing its "
                "data (delete the file to build a new shop)"
            )
        _report(db, tenant_id)
        violations = _verify(db)
        with db.unit_of_work() as session:
            _, key = auth.create_key(session, tenant_id=tenant_id, name="demo", now=now())
            customer = session.execute(
                select(Member.external_id)
                .join(
                    Balance,
                    (Balance.tenant_id == Member.tenant_id) & (Balance.wallet_id == Member.id),
                )
                .where(Member.tenant_id == tenant_id)
                .order_by(Balance.available.desc(), Member.external_id)
                .limit(1)
            ).scalar_one_or_none()
    finally:
        db.dispose()
    if violations:
        raise typer.Exit(code=1)
    _instructions(key, customer or "cust_0001", host, port, serve)
    if serve:
        _serve(database_url, host, port)


def _where(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database:
        return os.path.abspath(parsed.database)
    return parsed.render_as_string(hide_password=True)


def _existing(db: Database) -> uuid.UUID | None:
    with db.unit_of_work() as session:
        return session.execute(
            select(Tenant.tenant_id).where(Tenant.name == shop.TENANT)
        ).scalar_one_or_none()


@dataclass
class _Tally:
    events: int = 0
    redeemed: int = 0
    adjusted: int = 0


def _build(db: Database, *, members_count: int, seed: int) -> uuid.UUID:
    started = time.monotonic()
    plan = shop.plan(members=members_count, seed=seed, end=now())
    clock = FrozenClock(plan.start)
    with db.unit_of_work() as session:
        tenant = auth.create_tenant(session, name=shop.TENANT, now=clock.now())
        program = programs.publish(
            session, tenant_id=tenant.tenant_id, document=shop.PROGRAM, now=clock.now()
        )
    tenant_id = tenant.tenant_id
    tally = _Tally()
    # Events and actions in one time line: runs of events within BATCH_WINDOW are batches,
    # each action happens at its own time, and the jobs run at the end of every day.
    timeline: list[EventBase | shop.Action] = sorted(
        [*plan.events, *plan.actions], key=lambda item: _when(item)
    )
    done = 0
    progress = Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days · {task.fields[events]} events"),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task("", total=shop.DAYS, events=0)
        for day in range(1, shop.DAYS + 1):
            step = min(plan.start + timedelta(days=day), plan.end)
            batch: list[EventBase] = []
            while done < len(timeline) and _when(timeline[done]) <= step:
                item = timeline[done]
                done += 1
                if isinstance(item, shop.Adjustment | shop.Redemption):
                    _ingest(db, tenant_id, program, clock, batch, tally)
                    clock.set(item.at)
                    _act(db, tenant_id, program, item, clock.now(), tally)
                else:
                    if batch and item.occurred_at - batch[0].occurred_at > BATCH_WINDOW:
                        _ingest(db, tenant_id, program, clock, batch, tally)
                    batch.append(item)
                    if len(batch) == BATCH:
                        _ingest(db, tenant_id, program, clock, batch, tally)
            _ingest(db, tenant_id, program, clock, batch, tally)
            clock.set(step)
            tasks.run_due(db, now=clock.now(), terms_for=programs.terms_for)
            birthdays(db, now=clock.now())
            progress.update(task, advance=1, description=f"{step:%B %Y}", events=tally.events)
    console.print(
        f"built shop [bold]{shop.TENANT}[/bold]: {members_count} customers, {tally.events} events, "
        f"{tally.redeemed} redemptions, {tally.adjusted} support adjustments "
        f"in {time.monotonic() - started:.1f}s"
    )
    return tenant_id


def _when(item: EventBase | shop.Action) -> datetime:
    return item.at if isinstance(item, shop.Adjustment | shop.Redemption) else item.occurred_at


def _ingest(
    db: Database,
    tenant_id: uuid.UUID,
    program: Program,
    clock: FrozenClock,
    batch: list[EventBase],
    tally: _Tally,
) -> None:
    """Send the batch through the ingestion service, as POST /v1/events/batch would, and
    empty it."""
    if not batch:
        return
    clock.set(batch[-1].occurred_at)
    with db.unit_of_work() as session:
        pipeline.ingest(
            session, tenant_id=tenant_id, program=program, events=batch, now=clock.now()
        )
    tally.events += len(batch)
    batch.clear()


def _act(
    db: Database,
    tenant_id: uuid.UUID,
    program: Program,
    action: shop.Action,
    at: datetime,
    tally: _Tally,
) -> None:
    """Apply one support action or redemption against the balance the member has now. One
    that no longer makes sense (not a member, nothing left to take) is skipped, as an agent
    or a checkout would."""
    try:
        with db.unit_of_work() as session:
            member = members.get_by_external_id(
                session, tenant_id=tenant_id, external_id=action.customer, lock=True
            )
            if member.status != MemberStatus.ACTIVE:
                return
            available = max(members.balance(session, member).available, 0)
            if isinstance(action, shop.Redemption):
                reward = shop.reward_for(action.budget, available)
                if reward is None:
                    return
                redemptions.redeem(
                    session,
                    member=member,
                    program=program,
                    data=RedemptionCreate(points=reward[0], description=reward[1]),
                    idempotency_key=action.idempotency_key,
                    now=at,
                )
                tally.redeemed += 1
                return
            points = action.points if action.points > 0 else -min(-action.points, available)
            if points == 0:
                return
            ledger.adjust(
                session,
                tenant_id=tenant_id,
                wallet_id=member.id,
                amount=points,
                reason=action.reason,
                terms=program.terms,
                now=at,
            )
            tally.adjusted += 1
    except MemberNotFound:
        return


def _report(db: Database, tenant_id: uuid.UUID) -> None:
    with db.unit_of_work() as session:
        member_count = session.execute(
            select(func.count()).select_from(Member).where(Member.tenant_id == tenant_id)
        ).scalar_one()
        order_count = session.execute(
            select(func.count()).select_from(Order).where(Order.tenant_id == tenant_id)
        ).scalar_one()
        kinds = session.execute(
            select(Posting.kind, func.count(), func.sum(Posting.amount))
            .where(Posting.tenant_id == tenant_id)
            .group_by(Posting.kind)
            .order_by(Posting.kind)
        ).all()
    table = Table(title=f"{member_count} members, {order_count} orders", title_justify="left")
    table.add_column("ledger postings")
    table.add_column("count", justify="right")
    table.add_column("points", justify="right")
    for kind, count, points in kinds:
        table.add_row(kind, f"{count:,}", f"{points or 0:+,}")
    console.print(table)


def _verify(db: Database) -> list[Violation]:
    with db.unit_of_work() as session:
        violations = verify(session)
    for v in violations:
        err_console.print(f"[red]violation[/red] {v}")
    if violations:
        err_console.print(f"verify-ledger: {len(violations)} violation(s)")
    else:
        console.print(
            "verify-ledger: OK (every posting balances, every cached balance equals its "
            "entries, lots match balances)"
        )
    return violations


def _plain(line: str = "") -> None:
    """Printed as is: Rich would wrap long lines and read brackets as markup, and these
    lines are meant to be copied into a shell."""
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _instructions(key: str, customer: str, host: str, port: int, serve: bool) -> None:
    base = browsable_url(host, port)
    event = {
        "id": f"evt-{secrets.token_hex(4)}",
        "type": "order.placed",
        "occurred_at": now().replace(microsecond=0).isoformat(),
        "customer": {"external_id": customer},
        "data": {"order_id": f"#W{secrets.token_hex(3)}", "currency": "USD", "total": "42.50"},
    }
    _plain()
    _plain("API key (shown once, stored hashed; a new one is made on every run):")
    _plain(f"  {key}")
    _plain()
    _plain("Try it:")
    _plain(f"  export PATRON_API_KEY={key}")
    _plain(f'  curl -s {base}/v1/members/{customer} -H "Authorization: Bearer $PATRON_API_KEY"')
    _plain(
        f'  curl -s {base}/v1/events -H "Authorization: Bearer $PATRON_API_KEY" '
        f"-H 'Content-Type: application/json' -d '{orjson.dumps(event).decode()}'"
    )
    _plain()
    if serve:
        _plain(f"Serving on {base} (OpenAPI docs at {base}/docs); Ctrl-C stops it.")


def _serve(database_url: str, host: str, port: int) -> None:
    """As `patron serve` does: uvicorn builds the app from the environment."""
    import uvicorn

    from patron.config import get_settings

    os.environ["PATRON_DATABASE_URL"] = database_url
    get_settings.cache_clear()  # read again, with the demo's database
    uvicorn.run(
        "patron.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
