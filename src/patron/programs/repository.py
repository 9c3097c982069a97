import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.programs.models import ProgramVersion


def get_version(session: Session, tenant_id: uuid.UUID, version: int) -> ProgramVersion | None:
    return session.get(ProgramVersion, (tenant_id, version))


def latest_version_number(session: Session, tenant_id: uuid.UUID) -> int:
    stmt = select(func.coalesce(func.max(ProgramVersion.version), 0)).where(
        ProgramVersion.tenant_id == tenant_id
    )
    return int(session.execute(stmt).scalar_one())
