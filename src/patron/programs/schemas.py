from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from patron.kit.json_types import DateTimeString, JsonBool, JsonInt, Text
from patron.kit.money import CURRENCIES
from patron.ledger.engine import Terms


class ProgramDocument(BaseModel):
    """The terms of a loyalty program. Publishing a document makes a new immutable version."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(
        "Rewards",
        min_length=1,
        max_length=100,
        description="Shown to members.",
        examples=["Bean Club"],
    )
    currency: str = Field(description="ISO 4217 code of the shop's orders.", examples=["USD"])
    points_per_unit: Annotated[
        Decimal,
        Field(
            gt=0,
            le=10_000,
            max_digits=12,
            decimal_places=4,
            description="Points earned per whole currency unit of an order's total, as a "
            "decimal string.",
            examples=["1", "2.5"],
        ),
    ] = Decimal(1)
    rounding: Literal["down", "half_up", "up"] = Field(
        "down", description="How fractional points are rounded.", examples=["down"]
    )
    pending_days: JsonInt = Field(
        0,
        ge=0,
        le=365,
        examples=[30],
        description="The return window: points stay pending this many days after the order, "
        "then become available. 0 makes them available at once.",
    )
    expiry_days: JsonInt | None = Field(
        None,
        ge=1,
        le=3650,
        examples=[365],
        description="Points expire this many days after they were earned; null: never.",
    )
    negative_balance: Literal["forbid", "debt"] = Field(
        "forbid",
        examples=["forbid"],
        description="`forbid`: a claw-back never takes the balance below zero; what cannot be "
        "recovered is written off and recorded. `debt`: the balance may go below zero and "
        "future earnings pay the debt first.",
    )
    auto_enroll: JsonBool = Field(
        True, description="Enrol customers on their first order.", examples=[True]
    )
    timezone: str = Field(
        "UTC", description="IANA time zone for calendar windows.", examples=["Europe/Berlin"]
    )

    @field_validator("points_per_unit", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError(
                'must be a decimal string such as "1.5", not a JSON number with a fraction'
            )
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value not in CURRENCIES:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

    @model_validator(mode="after")
    def _expiry_after_pending(self) -> "ProgramDocument":
        if self.expiry_days is not None and self.expiry_days <= self.pending_days:
            raise ValueError("expiry_days must be longer than pending_days")
        return self


class ProgramPut(ProgramDocument):
    """What `PUT /v1/program` takes: a program document. A published version read with GET
    can be edited and sent back as it is: its read-only fields are accepted."""

    version: JsonInt | None = Field(
        None,
        ge=1,
        description="The version this edit starts from, as GET returned it. If given and "
        "another version was published since, the PUT is refused (409) so that two people "
        "editing the program cannot undo each other's changes. Leave it out to publish "
        "unconditionally.",
        examples=[3],
    )
    published_at: Annotated[datetime | None, DateTimeString] = Field(
        None, description="Read-only: accepted and ignored, so a GET body can be sent back."
    )

    def document(self) -> ProgramDocument:
        return ProgramDocument.model_validate(self.model_dump(exclude={"version", "published_at"}))


class Program(ProgramDocument):
    """A published version of the program."""

    version: int = Field(description="Published version number.", examples=[3])
    published_at: datetime = Field(description="When this version was published.")

    @property
    def terms(self) -> Terms:
        """What the ledger records and applies for the program's points."""
        return Terms(self.version, self.negative_balance, self.expiry_days)
