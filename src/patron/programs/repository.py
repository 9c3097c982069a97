import uuid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from patron.auth.models import Tenant
from patron.programs.models import ProgramVersion


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
