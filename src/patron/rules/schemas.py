"""Earning rules, as they are written in the program document.

A rule listens to one event type. When its schedule includes the event's time, its
condition (`when`, CEL) holds and its limits and budget leave room, it does one of three
things, which are also the three stages of a calculation (docs/rules.md):

1. `rate`: points per currency unit of the earning base of the lines in its scope, added to
   the program's own `points_per_unit`;
2. `multiplier`: multiplies the points of the lines in its scope; multipliers add up (a
   double-points day, 2, and a 3x category make 4x: each adds what it adds over 1), and 0
   excludes the lines from earning anything;
3. `points`: a fixed bonus per order, per line or per unit (an integer or a CEL expression);
   not multiplied unless `multiplied` says so.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from patron.kit.json_types import DateString, DateTimeString, JsonBool, JsonInt, Text
from patron.rules.expressions import FieldType

RULE_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
EVENT_TYPE = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$|^birthday$"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Expression = Annotated[Text, Field(min_length=1, max_length=2000)]
Tag = Annotated[Text, Field(min_length=1, max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _decimal_text(value: object) -> object:
    if value is not None and not isinstance(value, str | Decimal):
        raise ValueError('must be a decimal string such as "1.5" (JSON numbers are refused)')
    return value


# One schema for reading and writing (a decimal goes out as a string too), so that the
# OpenAPI document has one `Rule` model and generated clients one class.
DecimalText = WithJsonSchema({"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"})


class LineScope(_Strict):
    """The order lines a rule applies to. Lists match any of their values; a line is in scope
    when it matches every list given, and the filter if there is one. Shipping and tax
    (when the earning base includes them) are in the scope of rules without one."""

    skus: list[Tag] = Field(
        default_factory=list, max_length=1000, description="Line SKUs.", examples=[["GIFT-50"]]
    )
    product_ids: list[Tag] = Field(
        default_factory=list, max_length=1000, description="Product ids.", examples=[["8812"]]
    )
    categories: list[Tag] = Field(
        default_factory=list, max_length=100, description="Categories.", examples=[["shoes"]]
    )
    tags: list[Tag] = Field(
        default_factory=list,
        max_length=100,
        description="Tags: a line with any of them matches.",
        examples=[["organic"]],
    )
    filter: Expression | None = Field(
        None,
        description="A CEL condition over `line` (and everything a condition sees).",
        examples=['line.unit_price >= 100.0 && !("sale" in line.tags)'],
    )

    @property
    def empty(self) -> bool:
        return not (self.skus or self.product_ids or self.categories or self.tags or self.filter)


class Limit(_Strict):
    """How often a rule may pay one member, in a calendar period of the shop's time zone."""

    per: Literal["day", "week", "month", "year", "lifetime"] = Field(
        description="The period (weeks start on Monday).", examples=["month"]
    )
    count: JsonInt | None = Field(
        None, ge=1, le=1_000_000, description="Times the rule may pay.", examples=[3]
    )
    points: JsonInt | None = Field(
        None,
        ge=1,
        le=1_000_000_000,
        description="Points the rule may pay in all; the last payment is cut to fit.",
        examples=[500],
    )
    by: Expression | None = Field(
        None,
        description="A CEL expression giving a text: the limit counts separately for each "
        "value (one share per social network).",
        examples=["data.network"],
    )

    @model_validator(mode="after")
    def _something(self) -> Limit:
        if self.count is None and self.points is None:
            raise ValueError("a limit needs a count, points or both")
        return self


class Schedule(_Strict):
    """When a rule is on, in the shop's time zone, judged at the time the event happened."""

    starts_at: Annotated[datetime | None, DateTimeString] = Field(
        None, description="On from this moment.", examples=["2026-11-27T00:00:00-05:00"]
    )
    ends_at: Annotated[datetime | None, DateTimeString] = Field(
        None, description="Off from this moment.", examples=["2026-12-01T00:00:00-05:00"]
    )
    weekdays: list[Weekday] = Field(
        default_factory=list,
        max_length=7,
        description="Only on these days (empty: every day).",
        examples=[["sat", "sun"]],
    )
    dates: list[Annotated[date, DateString]] = Field(
        default_factory=list,
        max_length=366,
        description="Only on these dates (empty: any date).",
        examples=[["2026-11-27"]],
    )
    from_hour: JsonInt = Field(0, ge=0, le=23, description="From this hour.", examples=[9])
    to_hour: JsonInt = Field(
        24, ge=1, le=24, description="Until this hour (exclusive).", examples=[17]
    )

    @model_validator(mode="after")
    def _order(self) -> Schedule:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.to_hour <= self.from_hour:
            raise ValueError("to_hour must be after from_hour")
        return self


class Rule(_Strict):
    id: str = Field(
        pattern=RULE_ID,
        description="Stable id: limits and budgets follow it across program versions.",
        examples=["weekend-double"],
    )
    name: Text = Field(
        min_length=1,
        max_length=200,
        description="Shown in explanations.",
        examples=["Double points weekend"],
    )
    event: str = Field(
        "order.placed",
        pattern=EVENT_TYPE,
        description="The event type it listens to.",
        examples=["order.placed"],
    )
    active: JsonBool = Field(True, description="Off: kept in the program, never applied.")
    when: Expression | None = Field(
        None,
        description="A CEL condition; the rule applies only when it is true.",
        examples=["member.orders == 0"],
    )
    lines: LineScope | None = Field(
        None, description="Order events only: the lines it applies to (all when left out)."
    )
    rate: Annotated[
        Annotated[Decimal, DecimalText] | None,
        Field(
            ge=0,
            le=10_000,
            max_digits=12,
            decimal_places=4,
            description="Points per currency unit of the base of the lines in scope, added to "
            "the program's rate.",
            examples=["2"],
        ),
    ] = None
    multiplier: Annotated[
        Annotated[Decimal, DecimalText] | None,
        Field(
            ge=0,
            le=100,
            max_digits=8,
            decimal_places=4,
            description="Multiplies the points of the lines in scope: 0 (excludes them) or at "
            "least 1. Multipliers add up: 2 and 3 on one line make 4.",
            examples=["2"],
        ),
    ] = None
    points: JsonInt | Expression | None = Field(
        None,
        description="A fixed bonus: an integer, or a CEL expression giving a number.",
        examples=[100],
    )
    per: Literal["order", "line", "unit"] = Field(
        "order",
        description="A bonus is paid once per event, per line in scope, or per unit in scope.",
        examples=["order"],
    )
    multiplied: JsonBool = Field(
        False, description="A per-line or per-unit bonus is multiplied by the lines' multipliers."
    )
    group: Annotated[str, Field(pattern=RULE_ID)] | None = Field(
        None,
        description="Of the rules of one group that apply to an event, only the one giving the "
        "most points counts. A group's rules are all rates, all multipliers or all bonuses.",
        examples=["welcome"],
    )
    stop: JsonBool = Field(
        False, description="When this rule applies, the rules after it are not considered."
    )
    limits: list[Limit] = Field(
        default_factory=list, max_length=5, description="Per member, per period."
    )
    budget: JsonInt | None = Field(
        None,
        ge=1,
        le=10_000_000_000,
        description="Points the rule may pay in all, to every member: it stops once spent.",
        examples=[100000],
    )
    schedule: Schedule | None = Field(None, description="When the rule is on.")

    @field_validator("rate", "multiplier", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        return _decimal_text(value)

    @property
    def kind(self) -> Literal["rate", "multiplier", "points"]:
        if self.rate is not None:
            return "rate"
        if self.multiplier is not None:
            return "multiplier"
        return "points"

    @model_validator(mode="after")
    def _one_effect(self) -> Rule:
        given = [k for k in ("rate", "multiplier", "points") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a rule gives exactly one of rate, multiplier or points"
                + (f" (this one gives {', '.join(given)})" if given else "")
            )
        if self.event != "order.placed":
            if self.kind != "points":
                raise ValueError(
                    f"a rule on {self.event} gives points (rates and multipliers are for orders)"
                )
            if self.lines is not None:
                raise ValueError(f"a rule on {self.event} has no lines to scope")
            if self.per != "order":
                raise ValueError(f"a rule on {self.event} pays once per event: per must be order")
        if self.multiplied and (self.kind != "points" or self.per == "order"):
            raise ValueError("multiplied is for bonuses paid per line or per unit")
        if self.multiplier is not None and 0 < self.multiplier < 1:
            raise ValueError(
                "a multiplier is 0 (excludes lines) or at least 1; to earn less on some lines, "
                "give them a lower rate"
            )
        if self.group and self.multiplier == 0:
            raise ValueError("a multiplier of 0 excludes lines; it cannot compete in a group")
        return self


# The data of the events rules can listen to besides orders, as CEL sees it. The engagement
# events' own schemas (what the API takes) carry the same fields.
BUILTIN_DATA: dict[str, dict[str, FieldType]] = {
    "member.enrolled": {"source": "string"},
    "account.created": {"source": "string"},
    "birthday": {"year": "integer", "date": "string"},
    "review.written": {
        "review_id": "string",
        "product_id": "string",
        "rating": "integer",
        "verified": "boolean",
        "photos": "integer",
        "words": "integer",
    },
    "social.shared": {"network": "string", "url": "string"},
    "survey.completed": {"survey_id": "string"},
    "newsletter.subscribed": {"list": "string"},
    "profile.completed": {"fields": "strings"},
}
CUSTOM_PREFIX = "custom."
CUSTOM_NAME = r"^[a-z][a-z0-9_]{0,63}$"


class CustomEvent(_Strict):
    """An event type the shop defines, sent as `custom.<name>`: its data's fields and types,
    checked when an event arrives and typed in the rules that read them."""

    description: Text | None = Field(
        None, max_length=500, description="What it means.", examples=["Finished the style quiz"]
    )
    fields: dict[Annotated[str, Field(pattern=CUSTOM_NAME)], FieldType] = Field(
        default_factory=dict,
        max_length=50,
        description="Field name to type: string, integer, number, boolean, strings (a list of "
        "texts) or timestamp.",
        examples=[{"quiz": "string", "score": "integer"}],
    )
    required: list[str] = Field(
        default_factory=list, description="Fields an event must give.", examples=[["quiz"]]
    )

    @model_validator(mode="after")
    def _known(self) -> CustomEvent:
        unknown = [f for f in self.required if f not in self.fields]
        if unknown:
            raise ValueError(f"required names fields that are not declared: {unknown}")
        return self


class Earning(_Strict):
    """What an order's points are counted on."""

    shipping: JsonBool = Field(False, description="Shipping earns points.")
    tax: JsonBool = Field(False, description="Tax earns points.")
    discounts: Literal["after", "before"] = Field(
        "after",
        description="`after`: points on what the customer pays for the goods, after line and "
        "order discounts (and points spent). `before`: on the prices before any discount.",
        examples=["after"],
    )
    gift_cards: JsonBool = Field(
        False, description="Buying a gift card earns points (lines marked `gift_card`)."
    )
    minimum: Annotated[
        str | None,
        Field(
            pattern=r"^[0-9]{1,15}(\.[0-9]{1,6})?$",
            description="Orders whose earning base is below this amount earn nothing, no bonus "
            "either. It is compared with the base as this section defines it.",
            examples=["20.00"],
        ),
    ] = None
