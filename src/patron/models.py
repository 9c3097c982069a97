"""Every domain's models, imported so that the metadata (and Alembic's comparison) sees every
table, as `api.py` gathers every router."""

from patron.auth.models import ApiKey, Tenant
from patron.db.base import Base
from patron.events.models import Event
from patron.ledger.models import Balance, Entry, Lot, LotUse, Posting
from patron.members.models import Member, MemberMerge
from patron.orders.models import Order
from patron.programs.models import ProgramDraft, ProgramVersion
from patron.redemptions.models import Redemption
from patron.rules.models import RuleBudget, RuleUsage

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "Balance",
    "Entry",
    "Event",
    "Lot",
    "LotUse",
    "Member",
    "MemberMerge",
    "Order",
    "Posting",
    "ProgramDraft",
    "ProgramVersion",
    "Redemption",
    "RuleBudget",
    "RuleUsage",
    "Tenant",
    "metadata",
]
