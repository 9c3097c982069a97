import uuid
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from patron.auth.models import ApiKey, Tenant
from patron.db.statements import Hot

# Runs on every request (see patron.db.statements).
_BY_SECRET = Hot(
    lambda dialect: (
        select(ApiKey.id, ApiKey.scopes, Tenant.tenant_id, Tenant.name, Tenant.program_version)
        .join(Tenant, Tenant.tenant_id == ApiKey.tenant_id)
        .where(ApiKey.secret_hash == bindparam("h"), ApiKey.revoked_at.is_(None))
    )
)


def active_key(
    session: Session, secret_hash: str
) -> tuple[uuid.UUID, list[str], uuid.UUID, str, int | None] | None:
    """(key id, scopes, tenant id, tenant name, program version) of an unrevoked key."""
    rows = _BY_SECRET.rows(session, {"h": secret_hash})
    if not rows:
        return None
    key_id, scopes, tenant_id, name, program_version = rows[0]
    return key_id, scopes, tenant_id, name, program_version


def tenant_by_name(session: Session, name: str) -> Tenant | None:
    return session.execute(select(Tenant).where(Tenant.name == name)).scalar_one_or_none()


def tenants(session: Session) -> list[Tenant]:
    return list(session.execute(select(Tenant).order_by(Tenant.name)).scalars())


def keys(session: Session, tenant_id: uuid.UUID) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)
    return list(session.execute(stmt).scalars())


def keys_starting(session: Session, tenant_id: uuid.UUID, start: str) -> list[ApiKey]:
    """The tenant's keys whose stored prefix starts with `start`, oldest first. Compared with
    substr, not LIKE: keys are case-sensitive, SQLite's LIKE is not, and `_` is a wildcard."""
    stmt = (
        select(ApiKey)
        .where(
            ApiKey.tenant_id == tenant_id,
            func.substr(ApiKey.prefix, 1, len(start)) == start,
        )
        .order_by(ApiKey.created_at)
    )
    return list(session.execute(stmt).scalars())


def key_by_hash(session: Session, tenant_id: uuid.UUID, secret_hash: str) -> ApiKey | None:
    """The tenant's key with this secret hash, revoked or not."""
    return session.execute(
        select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.secret_hash == secret_hash)
    ).scalar_one_or_none()


def keys_with_prefix(
    session: Session, tenant_id: uuid.UUID, prefix: str
) -> list[tuple[uuid.UUID, str, list[str], datetime | None]]:
    """(id, secret hash, scopes, revoked at) of the tenant's keys whose stored prefix is
    `prefix`."""
    rows = session.execute(
        select(ApiKey.id, ApiKey.secret_hash, ApiKey.scopes, ApiKey.revoked_at).where(
            ApiKey.tenant_id == tenant_id, ApiKey.prefix == prefix
        )
    ).all()
    return [
        (key_id, secret_hash, scopes, revoked_at)
        for key_id, secret_hash, scopes, revoked_at in rows
    ]


def key_by_id(session: Session, tenant_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey | None:
    return session.execute(
        select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.id == key_id)
    ).scalar_one_or_none()
