import uuid

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from patron.auth.models import Tenant
from patron.programs.models import ProgramDraft, ProgramVersion


def get_version(session: Session, tenant_id: uuid.UUID, version: int) -> ProgramVersion | None:
    return session.get(ProgramVersion, (tenant_id, version))


def latest_version_number(session: Session, tenant_id: uuid.UUID) -> int:
    stmt = select(func.coalesce(func.max(ProgramVersion.version), 0)).where(
        ProgramVersion.tenant_id == tenant_id
    )
    return int(session.execute(stmt).scalar_one())


def lock_tenant(session: Session, tenant_id: uuid.UUID) -> None:
    """Lock the tenant row: two publishes cannot take the same version number."""
    assert session.get(Tenant, tenant_id, with_for_update=True) is not None


def set_current_version(session: Session, tenant_id: uuid.UUID, version: int) -> None:
    session.execute(
        update(Tenant).where(Tenant.tenant_id == tenant_id).values(program_version=version)
    )


def current_version(session: Session, tenant_id: uuid.UUID) -> int | None:
    return session.execute(
        select(Tenant.program_version).where(Tenant.tenant_id == tenant_id)
    ).scalar_one()


def versions(
    session: Session, tenant_id: uuid.UUID, *, before: int | None, limit: int
) -> list[ProgramVersion]:
    """Published versions, newest first, older than `before` if given."""
    stmt = select(ProgramVersion).where(ProgramVersion.tenant_id == tenant_id)
    if before is not None:
        stmt = stmt.where(ProgramVersion.version < before)
    return list(
        session.execute(stmt.order_by(ProgramVersion.version.desc()).limit(limit)).scalars()
    )


def get_draft(session: Session, tenant_id: uuid.UUID) -> ProgramDraft | None:
    return session.get(ProgramDraft, tenant_id)


def delete_draft(session: Session, tenant_id: uuid.UUID) -> bool:
    result = session.execute(delete(ProgramDraft).where(ProgramDraft.tenant_id == tenant_id))
    return bool(getattr(result, "rowcount", 0))
