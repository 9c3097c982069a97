"""Member tokens: a JWT (HS256) that a shop's backend signs for one customer, so that the
storefront can read that customer's balance and history and redeem their points.

The HMAC key is the SHA-256 hex digest of one of the shop's secret API keys: the shop
computes it from the key it holds, and Patron already stores it (that is all it stores of a
key). The `kid` header names the key by the prefix `patron keys list` shows, so revoking the
key ends its tokens. Claims: `sub` (the customer's external id), `iat`, `exp`; a token valid
for longer than the configured maximum is refused. Why this scheme and what it costs:
docs/decisions/0007-member-tokens-signed-with-the-key-hash.md.

Pure functions, no database: the caller finds the key the `kid` names.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from patron.auth.errors import InvalidMemberToken

ALGORITHM = "HS256"
# Clock skew tolerated between the server that signed a token and Patron's.
LEEWAY = timedelta(seconds=60)
FIELD = "Authorization"


@dataclass(frozen=True)
class MemberClaims:
    external_id: str
    issued_at: datetime
    expires_at: datetime


def looks_like_token(credential: str) -> bool:
    """A JWT has three dot-separated parts; API keys and publishable keys have no dot."""
    return credential.count(".") == 2


def sign(
    *, secret_hash: str, key_prefix: str, external_id: str, now: datetime, expires_in: timedelta
) -> tuple[str, datetime]:
    """A token, and when it expires (whole seconds, as the claims carry it)."""
    issued = int(now.timestamp())
    expires = issued + int(expires_in.total_seconds())
    payload = {"sub": external_id, "iat": issued, "exp": expires}
    token = jwt.encode(
        payload, secret_hash.encode("ascii"), algorithm=ALGORITHM, headers={"kid": key_prefix}
    )
    return token, datetime.fromtimestamp(expires, UTC)


def key_prefix(token: str) -> str:
    """The `kid` header, read before the signature can be checked: it says which key to
    check it with."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidMemberToken("the member token is not a well-formed JWT", field=FIELD) from None
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidMemberToken(
            "the member token has no `kid` header: set it to the prefix of the secret API key "
            "that signed it (its first 10 characters, as `patron keys list` shows)",
            field=FIELD,
        )
    return kid


def _instant(claims: dict[str, Any], name: str) -> datetime:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidMemberToken(
            f"the member token's `{name}` must be a number of seconds since 1970 (UTC)",
            field=FIELD,
        )
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidMemberToken(
            f"the member token's `{name}` is out of range", field=FIELD
        ) from None


def verify(token: str, *, secret_hash: str, now: datetime, max_age: timedelta) -> MemberClaims:
    """The claims of a token signed with the key whose hash is `secret_hash`. Raises
    `jwt.InvalidSignatureError` when it was signed with another key (the caller may have
    another candidate), `InvalidMemberToken` for everything else."""
    try:
        claims = jwt.decode(
            token,
            secret_hash.encode("ascii"),
            algorithms=[ALGORITHM],
            # Times are checked below against Patron's clock, not the host's.
            options={
                "require": ["sub", "iat", "exp"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidMemberToken(
            f"the member token has no `{exc.claim}` claim", field=FIELD
        ) from None
    except jwt.InvalidAlgorithmError:
        raise InvalidMemberToken(
            f"the member token must be signed with {ALGORITHM}", field=FIELD
        ) from None
    except jwt.InvalidTokenError as exc:
        raise InvalidMemberToken(f"the member token is not valid: {exc}", field=FIELD) from None
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        raise InvalidMemberToken(
            "the member token's `sub` must be the customer's external id", field=FIELD
        )
    issued, expires = _instant(claims, "iat"), _instant(claims, "exp")
    if expires <= issued:
        raise InvalidMemberToken("the member token expires before it was issued", field=FIELD)
    if expires - issued > max_age:
        raise InvalidMemberToken(
            f"the member token is valid for {int((expires - issued).total_seconds())} s; "
            f"at most {int(max_age.total_seconds())} s is accepted: sign shorter-lived tokens",
            field=FIELD,
        )
    if issued > now + LEEWAY:
        raise InvalidMemberToken(
            f"the member token was issued in the future ({issued.isoformat()}): check the "
            "clock of the server that signed it",
            field=FIELD,
        )
    if now > expires + LEEWAY:
        raise InvalidMemberToken(
            f"the member token expired at {expires.isoformat()}: ask the shop's backend for a "
            "new one",
            field=FIELD,
        )
    if "nbf" in claims and now + LEEWAY < _instant(claims, "nbf"):
        raise InvalidMemberToken("the member token is not valid yet (`nbf`)", field=FIELD)
    return MemberClaims(external_id=sub, issued_at=issued, expires_at=expires)
