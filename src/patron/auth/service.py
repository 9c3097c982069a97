"""Tenants and API keys. A key is shown once, at creation; only its SHA-256 is stored."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from patron.auth import repository
from patron.auth.errors import TenantExists, TenantNotFound
from patron.auth.models import ApiKey, Tenant
from patron.auth.scopes import ALL_SCOPES
from patron.errors import InvalidInput, Unauthorized
from patron.kit.ids import uuid7

KEY_PREFIX = "pk_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant a key belongs to, what the key may do, and the tenant's
    current program version (read in the same query, so no extra round trip)."""

    tenant_id: uuid.UUID
    tenant_name: str
    key_id: uuid.UUID
    scopes: frozenset[str]
    program_version: int | None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AuthService:
    def create_tenant(self, session: Session, *, name: str, now: datetime) -> Tenant:
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("a tenant name has 1 to 100 characters", field="name")
        if repository.tenant_by_name(session, name) is not None:
            raise TenantExists(f"a tenant named {name!r} exists already", field="name")
        tenant = Tenant(tenant_id=uuid7(), name=name, created_at=now)
        session.add(tenant)
        session.flush()
        return tenant

    def get_tenant_by_name(self, session: Session, *, name: str) -> Tenant:
        tenant = repository.tenant_by_name(session, name)
        if tenant is None:
            raise TenantNotFound(f"no tenant named {name!r}", field="tenant")
        return tenant

    def list_tenants(self, session: Session) -> list[Tenant]:
        return repository.tenants(session)

    def create_key(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        name: str,
        now: datetime,
        scopes: list[str] | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its secret. The secret is not kept: show it to the person now."""
        chosen = sorted(set(scopes)) if scopes else list(ALL_SCOPES)
        unknown = [s for s in chosen if s not in ALL_SCOPES]
        if unknown:
            raise InvalidInput(
                f"unknown scopes {unknown}; known: {list(ALL_SCOPES)}", field="scopes"
            )
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            tenant_id=tenant_id,
            id=uuid7(),
            name=name,
            prefix=secret[:10],
            secret_hash=hash_secret(secret),
            scopes=chosen,
            created_at=now,
        )
        session.add(key)
        session.flush()
        return key, secret

    def list_keys(self, session: Session, *, tenant_id: uuid.UUID) -> list[ApiKey]:
        return repository.keys(session, tenant_id)

    def revoke_key(
        self, session: Session, *, tenant_id: uuid.UUID, prefix: str, now: datetime
    ) -> ApiKey:
        key = repository.key_by_prefix(session, tenant_id, prefix)
        if key is None:
            raise TenantNotFound(f"no key starting {prefix!r} for this tenant", field="prefix")
        key.revoked_at = key.revoked_at or now
        return key

    def authenticate(self, session: Session, *, secret: str) -> Principal:
        found = repository.active_key(session, hash_secret(secret))
        if found is None:
            raise Unauthorized("the API key is not valid or was revoked")
        key_id, scopes, tenant_id, name, program_version = found
        return Principal(
            tenant_id=tenant_id,
            tenant_name=name,
            key_id=key_id,
            scopes=frozenset(scopes),
            program_version=program_version,
        )


auth = AuthService()
