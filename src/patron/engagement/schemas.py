"""Engagement events: what members do besides buying. Their `data` carries exactly the
fields rules read (`patron.rules.schemas.BUILTIN_DATA`), and the shop's own `custom.<name>`
events carry the fields the program declares."""

from typing import Annotated, Any, Literal

from pydantic import Field

from patron.events.schemas import EventBase, Strict
from patron.kit.json_types import JsonBool, JsonInt, Text
from patron.kit.opaque import Id
from patron.members.schemas import Birthday, EnrolledVia
from patron.rules.schemas import CUSTOM_NAME

Network = Literal[
    "facebook", "instagram", "x", "tiktok", "pinterest", "linkedin", "whatsapp", "email", "other"
]


class AccountCreatedData(Strict):
    source: EnrolledVia = Field("account", description="How the customer joined.")
    birthday: Birthday = Field(None, description="The customer's birthday, if given.")
    accepts_marketing: JsonBool = Field(False, description="Consent to marketing messages.")


class BirthdayData(Strict):
    year: JsonInt = Field(
        ge=1970, le=9999, description="The year of this birthday.", examples=[2026]
    )
    date: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")] = Field(
        description="The day it is celebrated on, in the shop's time zone.",
        examples=["2026-06-01"],
    )


class ReviewWrittenData(Strict):
    review_id: Id = Field(description="The shop's review id.", examples=["rev_881"])
    product_id: Id | None = Field(None, description="The product reviewed.", examples=["8812"])
    rating: JsonInt = Field(ge=1, le=5, description="Stars, 1 to 5.", examples=[5])
    verified: JsonBool = Field(False, description="Written by a verified buyer.")
    photos: JsonInt = Field(0, ge=0, le=100, description="Photos attached.", examples=[2])
    words: JsonInt = Field(0, ge=0, le=100_000, description="Length in words.", examples=[60])


class SocialSharedData(Strict):
    network: Network = Field(description="Where it was shared.", examples=["instagram"])
    url: Text | None = Field(None, max_length=2000, description="What was shared.")


class SurveyCompletedData(Strict):
    survey_id: Id = Field(description="The survey's id.", examples=["nps-2026-q4"])


class NewsletterSubscribedData(Strict):
    list: Text = Field("newsletter", max_length=100, description="The list subscribed to.")


class ProfileCompletedData(Strict):
    fields: list[Annotated[Text, Field(max_length=100)]] = Field(
        default_factory=list,
        max_length=50,
        description="The profile fields the customer filled in.",
        examples=[["birthday", "phone"]],
    )


class AccountCreated(EventBase):
    type: Literal["account.created"] = Field(description="The event type.")
    data: AccountCreatedData = Field(
        default_factory=AccountCreatedData, description="The new account."
    )


class Birthday_(EventBase):
    type: Literal["birthday"] = Field(description="The event type (sent by the birthday job).")
    data: BirthdayData = Field(description="Which birthday.")


class ReviewWritten(EventBase):
    type: Literal["review.written"] = Field(description="The event type.")
    data: ReviewWrittenData = Field(description="The review.")


class SocialShared(EventBase):
    type: Literal["social.shared"] = Field(description="The event type.")
    data: SocialSharedData = Field(description="The share.")


class SurveyCompleted(EventBase):
    type: Literal["survey.completed"] = Field(description="The event type.")
    data: SurveyCompletedData = Field(description="The survey.")


class NewsletterSubscribed(EventBase):
    type: Literal["newsletter.subscribed"] = Field(description="The event type.")
    data: NewsletterSubscribedData = Field(
        default_factory=NewsletterSubscribedData, description="The subscription."
    )


class ProfileCompleted(EventBase):
    type: Literal["profile.completed"] = Field(description="The event type.")
    data: ProfileCompletedData = Field(
        default_factory=ProfileCompletedData, description="The profile."
    )


class CustomEventIn(EventBase):
    type: Annotated[str, Field(pattern=r"^custom\.[a-z][a-z0-9_]{0,63}$")] = Field(
        description="`custom.<name>`, a name the program declares in `custom_events`.",
        examples=["custom.trail_report"],
    )
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="The fields the program declares for this event, with their types.",
        examples=[{"trail": "Bear Lake", "photos": 3}],
    )


CUSTOM_NAME_PATTERN = CUSTOM_NAME
