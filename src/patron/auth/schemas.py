from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from patron.kit.json_types import JsonInt

# The longest validity a token can be asked for, whatever the server allows: a year.
MAX_EXPIRES_IN = 365 * 24 * 3600


class MemberTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in: JsonInt = Field(
        3600,
        ge=60,
        le=MAX_EXPIRES_IN,
        description="Seconds the token stays valid. At most `PATRON_MEMBER_TOKEN_MAX_AGE` "
        "(24 h unless the server says otherwise); short is better: a token reads and spends "
        "the member's points until it expires.",
        examples=[3600],
    )


class MemberToken(BaseModel):
    token: str = Field(
        description="The member token (a JWT, HS256): send it from the storefront as "
        "`Authorization: Bearer <token>`, with the publishable key as `X-Patron-Key`.",
        examples=["eyJhbGciOiJIUzI1NiIsImtpZCI6InBrX0FiQ2RFZmciLCJ0eXAiOiJKV1QifQ.e30.c2ln"],
    )
    external_id: str = Field(
        description="The member it speaks for (its `sub` claim).", examples=["cust_1042"]
    )
    expires_at: datetime = Field(
        description="When it stops being accepted (its `exp`).",
        examples=["2026-11-22T11:15:00Z"],
    )
    key: str = Field(
        description="The prefix of the secret key that signed it (its `kid` header): "
        "revoking that key ends the token.",
        examples=["pk_AbCdEfg"],
    )
