"""Tenants and API keys. A key is shown once, at creation; only its SHA-256 is stored.

Two kinds of key share the table. A secret key (`pk_…`) is for the shop's backend. A
publishable key (`pub_…`) is for the storefront, in shoppers' browsers: alone it reads only
what is public; with a member token that a secret key signed, it reads and spends one
member's points (see `authenticate_storefront` and docs/storefront.md).
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy.orm import Session

from patron.auth import repository, tokens
from patron.auth.errors import (
    AmbiguousKey,
    InvalidMemberToken,
    InvalidPublishableKey,
    KeyNotFound,
    TenantExists,
    TenantNotFound,
)
from patron.auth.models import ApiKey, Tenant
from patron.auth.scopes import ALL_SCOPES, MEMBER_SCOPES, PUBLIC_SCOPES
from patron.errors import InvalidInput, Unauthorized
from patron.kit.ids import uuid7

KEY_PREFIX = "pk_"
# Characters of a key kept in clear, so that listings can tell keys apart.
PREFIX_LENGTH = 10
# The shortest start of a key that names it ("pk_" and 4 more): "pk_" alone would name a
# tenant's only key, as would an empty variable in a script's `pk_$ID`.
MIN_PREFIX = 7
PUBLISHABLE_PREFIX = "pub_"
KEY_HEADER = "X-Patron-Key"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant a key belongs to, what the key may do, and the tenant's
    current program version (read in the same query, so no extra round trip)."""

    tenant_id: uuid.UUID
    tenant_name: str
    key_id: uuid.UUID
    scopes: frozenset[str]
    program_version: int | None
    # A publishable key or a member token: the storefront, in a shopper's browser.
    storefront: bool = False
    # The customer (external id) a member token speaks for.
    member: str | None = None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_publishable(key: str) -> str:
    """Not the hash of a secret key: a publishable key sent as a bearer key is never found,
    so it can never act as a secret key, whatever its row says. (The difference is not a
    secret, and needs not be: publishable keys are public.)"""
    return hashlib.sha256(b"publishable:" + key.encode()).hexdigest()


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
            prefix=secret[:PREFIX_LENGTH],
            secret_hash=hash_secret(secret),
            scopes=chosen,
            created_at=now,
        )
        session.add(key)
        session.flush()
        return key, secret

    def create_publishable_key(
        self, session: Session, *, tenant_id: uuid.UUID, name: str, now: datetime
    ) -> tuple[ApiKey, str]:
        """A new publishable key, for the storefront. Its scopes are recorded for listings;
        what it may read is PUBLIC_SCOPES, decided by the code, not by the row."""
        key = PUBLISHABLE_PREFIX + secrets.token_urlsafe(24)
        row = ApiKey(
            tenant_id=tenant_id,
            id=uuid7(),
            name=name,
            prefix=key[:PREFIX_LENGTH],
            secret_hash=hash_publishable(key),
            scopes=list(PUBLIC_SCOPES),
            created_at=now,
        )
        session.add(row)
        session.flush()
        return row, key

    def list_keys(self, session: Session, *, tenant_id: uuid.UUID) -> list[ApiKey]:
        return repository.keys(session, tenant_id)

    def find_key(self, session: Session, *, tenant_id: uuid.UUID, given: str) -> ApiKey:
        """The tenant's key that `given` names: the whole key, or the start of it, from
        `MIN_PREFIX` up to `PREFIX_LENGTH` characters (only that much of a key is kept in
        clear; longer starts cannot be checked against the hash). A trailing `…`, as
        listings once printed, is ignored."""
        given = given.strip().removesuffix("…")
        if len(given) > PREFIX_LENGTH:
            hashed = (hash_publishable if given.startswith(PUBLISHABLE_PREFIX) else hash_secret)(
                given
            )
            key = repository.key_by_hash(session, tenant_id, hashed)
            if key is None:
                # The rest of the key is not echoed: it may be a secret pasted by mistake.
                raise KeyNotFound(
                    f"no key of this tenant is {given[:PREFIX_LENGTH]}… as given: name a key "
                    f"by the whole key or by at most its first {PREFIX_LENGTH} characters "
                    "(only those and a hash of the key are kept)",
                    field="key",
                )
            return key
        if len(given) < MIN_PREFIX:
            raise InvalidInput(
                f"{given!r} is too short to name a key: give at least its first {MIN_PREFIX} "
                "characters, or the whole key",
                field="key",
            )
        matches = repository.keys_starting(session, tenant_id, given)
        if not matches:
            raise KeyNotFound(f"no key of this tenant starts with {given!r}", field="key")
        if len(matches) > 1:
            named = ", ".join(
                f"{k.prefix} ({k.name}{', revoked' if k.revoked_at else ''})" for k in matches
            )
            raise AmbiguousKey(
                f"{given!r} is the start of {len(matches)} keys of this tenant: {named}; "
                "give more characters or the whole key",
                field="key",
            )
        return matches[0]

    def revoke_key(
        self, session: Session, *, tenant_id: uuid.UUID, prefix: str, now: datetime
    ) -> tuple[ApiKey, bool]:
        """Revoke the key `prefix` names (the whole key or its start, see `find_key`). Also
        whether it was revoked now: a key revoked before keeps its first revocation time."""
        key = self.find_key(session, tenant_id=tenant_id, given=prefix)
        if key.revoked_at is not None:
            return key, False
        key.revoked_at = now
        return key, True

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

    def authenticate_storefront(
        self,
        session: Session,
        *,
        publishable: str,
        token: str | None,
        now: datetime,
        max_age: timedelta,
    ) -> Principal:
        """The principal of a storefront request: the publishable key names the shop; a
        member token, if any, names one of its members. The token's powers are its signing
        key's, narrowed to MEMBER_SCOPES (and, by the routes, to its own member)."""
        field = KEY_HEADER
        if publishable.startswith(KEY_PREFIX):
            raise InvalidPublishableKey(
                f"{KEY_HEADER} carries a secret API key: a secret key must never reach a "
                "browser. Revoke it (`patron keys revoke`) and use a publishable key "
                f"({PUBLISHABLE_PREFIX}…) here",
                field=field,
            )
        if not publishable.startswith(PUBLISHABLE_PREFIX):
            raise InvalidPublishableKey(
                f"{KEY_HEADER} takes the shop's publishable key ({PUBLISHABLE_PREFIX}…)",
                field=field,
            )
        found = repository.active_key(session, hash_publishable(publishable))
        if found is None:
            raise InvalidPublishableKey(
                "the publishable key is not valid or was revoked", field=field
            )
        key_id, _, tenant_id, name, program_version = found
        if token is None:
            return Principal(
                tenant_id=tenant_id,
                tenant_name=name,
                key_id=key_id,
                scopes=frozenset(PUBLIC_SCOPES),
                program_version=program_version,
                storefront=True,
            )
        signer, scopes, claims = self._member_token(
            session, tenant_id=tenant_id, token=token, now=now, max_age=max_age
        )
        return Principal(
            tenant_id=tenant_id,
            tenant_name=name,
            key_id=signer,
            scopes=frozenset(PUBLIC_SCOPES) | (frozenset(scopes) & frozenset(MEMBER_SCOPES)),
            program_version=program_version,
            storefront=True,
            member=claims.external_id,
        )

    def _member_token(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        token: str,
        now: datetime,
        max_age: timedelta,
    ) -> tuple[uuid.UUID, list[str], tokens.MemberClaims]:
        """(signing key id, its scopes, the claims) of a member token signed by one of the
        tenant's active secret keys."""
        prefix = tokens.key_prefix(token)
        if not prefix.startswith(KEY_PREFIX):
            raise InvalidMemberToken(
                f"the member token's `kid` is {prefix!r}: it must name the secret API key "
                f"that signed it ({KEY_PREFIX}…, its first 10 characters)",
                field=tokens.FIELD,
            )
        candidates = repository.keys_with_prefix(session, tenant_id, prefix)
        if not candidates:
            raise InvalidMemberToken(
                f"the member token's key {prefix}… is not one of this shop's keys: sign it "
                f"with a secret key of the shop whose publishable key is in {KEY_HEADER}",
                field=tokens.FIELD,
            )
        active = [c for c in candidates if c[3] is None]
        if not active:
            raise InvalidMemberToken(
                f"the key that signed the member token ({prefix}…) was revoked: sign a new "
                "token with an active key",
                field=tokens.FIELD,
            )
        for key_id, secret_hash, scopes, _ in active:
            try:
                claims = tokens.verify(token, secret_hash=secret_hash, now=now, max_age=max_age)
            except jwt.InvalidSignatureError:
                continue
            return key_id, scopes, claims
        raise InvalidMemberToken(
            f"the member token's signature does not match the key it names ({prefix}…): the "
            "HMAC key is the SHA-256 hex digest of that secret key",
            field=tokens.FIELD,
        )

    def sign_member_token(
        self,
        session: Session,
        *,
        principal: Principal,
        external_id: str,
        now: datetime,
        expires_in: timedelta,
        max_age: timedelta,
    ) -> tuple[str, datetime]:
        """A member token signed with the caller's own secret key, and when it expires."""
        if expires_in > max_age:
            raise InvalidInput(
                f"expires_in is at most {int(max_age.total_seconds())} s on this server",
                field="expires_in",
            )
        key = repository.key_by_id(session, principal.tenant_id, principal.key_id)
        if key is None or principal.storefront:
            raise Unauthorized("only a secret API key signs member tokens", field="Authorization")
        return tokens.sign(
            secret_hash=key.secret_hash,
            key_prefix=key.prefix,
            external_id=external_id,
            now=now,
            expires_in=expires_in,
        )


auth = AuthService()
