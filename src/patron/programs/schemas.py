from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from patron.kit.json_types import DateTimeString, JsonBool, JsonInt, Text
from patron.kit.money import CURRENCIES
from patron.ledger.engine import Terms
from patron.rules.compiled import RuleError, RuleSet
from patron.rules.schemas import (
    BUILTIN_DATA,
    CUSTOM_NAME,
    CUSTOM_PREFIX,
    CustomEvent,
    Earning,
    Rule,
)

# What rules can listen to besides the event types of the shop's own custom events.
RULE_EVENTS = ("order.placed", *BUILTIN_DATA)


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
            ge=0,
            le=10_000,
            max_digits=12,
            decimal_places=4,
            description="Points earned per whole currency unit of an order's earning base "
            "(see `earning`), as a decimal string; the base rate the rules add to. 0: only the "
            "rules earn.",
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
        "UTC",
        description="IANA time zone of the shop: schedules, limits per day or month, birthdays.",
        examples=["Europe/Berlin"],
    )
    earning: Earning = Field(
        default_factory=Earning,
        description="What an order's points are counted on: shipping, tax, before or after "
        "discounts, gift cards, a minimum.",
    )
    rules: list[Rule] = Field(
        default_factory=list,
        max_length=2000,
        description="Earning rules, applied in this order (docs/rules.md).",
    )
    custom_events: dict[Annotated[str, Field(pattern=CUSTOM_NAME)], CustomEvent] = Field(
        default_factory=dict,
        max_length=100,
        description="The shop's own event types, sent as `custom.<name>`, and their fields.",
        examples=[{"quiz_completed": {"fields": {"quiz": "string", "score": "integer"}}}],
    )
    _ruleset: RuleSet | None = PrivateAttr(None)

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

    @model_validator(mode="after")
    def _rules_compile(self) -> "ProgramDocument":
        """Rules name known event types, have distinct ids, keep groups to one kind, and their
        expressions compile and check: a bad rule is refused here, never met by an event."""
        seen: dict[str, int] = {}
        groups: dict[str, str] = {}
        for i, rule in enumerate(self.rules):
            if rule.id == "base" or rule.id in seen:
                why = "is the program's own rate" if rule.id == "base" else "is taken"
                _refuse(f"rules.{i}.id", f"rule id {rule.id!r} {why}: ids must be unique")
            seen[rule.id] = i
            custom = rule.event.removeprefix(CUSTOM_PREFIX)
            known = rule.event in RULE_EVENTS or (
                rule.event.startswith(CUSTOM_PREFIX) and custom in self.custom_events
            )
            if not known:
                _refuse(
                    f"rules.{i}.event",
                    f"rule {rule.id!r} listens to {rule.event!r}, which is not an event rules can "
                    f"use: {', '.join(RULE_EVENTS)} or custom.<name> declared in custom_events",
                )
            if rule.group is not None:
                kind = groups.setdefault(rule.group, rule.kind)
                if kind != rule.kind:
                    _refuse(
                        f"rules.{i}.group",
                        f"group {rule.group!r} mixes {kind} and {rule.kind} rules: the rules "
                        "of a group compete on the same footing, so they are of one kind",
                    )
        try:
            self._ruleset = RuleSet(self)
        except RuleError as exc:
            _refuse(exc.at, exc.message)
        return self

    @property
    def ruleset(self) -> RuleSet:
        """The rules compiled (when the document was validated)."""
        if self._ruleset is None:
            self._ruleset = RuleSet(self)
        return self._ruleset


def _refuse(at: str, message: str) -> None:
    """A program error on one of its fields (`at`, dotted), reported under that field."""
    raise PydanticCustomError("program", "{message}", {"message": message, "at": at})


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

    def for_storefront(self) -> "Program":
        """What a shopper's browser may read: the terms, not the rules (their conditions,
        budgets and schedules of campaigns to come are the merchant's business)."""
        return self.model_copy(update={"rules": [], "custom_events": {}})

    @property
    def terms(self) -> Terms:
        """What the ledger records and applies for the program's points."""
        return Terms(self.version, self.negative_balance, self.expiry_days)


class ProgramDraftOut(ProgramDocument):
    """The shop's draft: a program document not yet published."""

    based_on: int | None = Field(
        description="The published version it was edited from (null: none was published).",
        examples=[3],
    )
    saved_at: datetime = Field(description="When the draft was last saved.")


class ProgramPublish(BaseModel):
    """What `POST /v1/program/publish` takes (optional)."""

    model_config = ConfigDict(extra="forbid")

    version: JsonInt | None = Field(
        None,
        ge=1,
        description="Publish only if this is still the published version (else 409): the "
        "version the draft's editor started from. Leave it out to publish unconditionally.",
        examples=[3],
    )


class VersionSummary(BaseModel):
    version: int = Field(description="Published version number.", examples=[3])
    name: str = Field(description="The program's name in that version.", examples=["Bean Club"])
    rules: int = Field(description="How many rules it has.", examples=[4])
    published_at: datetime = Field(description="When it was published.")


class VersionList(BaseModel):
    items: list[VersionSummary] = Field(description="Newest first.")
    next_before: int | None = Field(
        description="Pass as `before` for the next, older page; null on the last page.",
        examples=[None],
    )
