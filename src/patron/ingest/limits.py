"""The rules' part in an ingestion: it reads (and for budgets, locks) the counters that rule
limits and budgets are checked against, and writes them back with the batch.

Keys come from the handlers of the events that may pay by rules (`wanted`) and of those that
reverse such payments (`given_back`). Usage rows belong to one member and are read under that
member's lock, which every writer of them holds; budget rows are shared by every member, so
they are locked here, after the members (lock order: orders, members, rules, books).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from patron.db.bulk import Op
from patron.ingest.batch import Batch, Item
from patron.ingest.registry import Slot
from patron.rules import repository
from patron.rules.engine import Calculation, Usage, local_time, period_key


@dataclass(frozen=True, slots=True)
class UsageKey:
    member_id: uuid.UUID
    rule_id: str
    period: str  # "<per>:<period>"; its per-value counters come along


@dataclass(frozen=True, slots=True)
class BudgetKey:
    rule_id: str


class RulesPart:
    def __init__(self) -> None:
        self.usage: dict[uuid.UUID, dict[tuple[str, str], list[int]]] = {}
        self.budgets: dict[str, int] = {}
        self._changed: set[tuple[uuid.UUID, str, str]] = set()
        self._spent: set[str] = set()

    def load(self, session: Session, batch: Batch, wants: list[tuple[Item, Any]]) -> None:
        usage = [k for _, k in wants if isinstance(k, UsageKey)]
        rows = repository.usage(
            session,
            batch.tenant_id,
            [k.member_id for k in usage],
            [k.rule_id for k in usage],
            [k.period for k in usage],
        )
        for (member_id, rule_id, period), (count, points) in rows.items():
            self.usage.setdefault(member_id, {})[(rule_id, period)] = [count, points]
        self.budgets = repository.lock_budgets(
            session, batch.tenant_id, [k.rule_id for _, k in wants if isinstance(k, BudgetKey)]
        )

    def view(self, member_id: uuid.UUID) -> Mapping[tuple[str, str], Usage]:
        """What each rule paid the member per period, as the calculation reads it."""
        return {k: Usage(c, p) for k, (c, p) in self.usage.get(member_id, {}).items()}

    def consume(self, member_id: uuid.UUID, calculation: Calculation) -> None:
        """Count what the calculation paid against the limits and budgets of its rules."""
        for fired in calculation.fired:
            if fired.points <= 0:
                continue
            for period in fired.periods:
                self._add(member_id, fired.rule, period, 1, fired.points)
            if fired.budget:
                self.budgets[fired.rule] = self.budgets.get(fired.rule, 0) + fired.points
                self._spent.add(fired.rule)

    def give_back(
        self,
        member_id: uuid.UUID,
        rule_id: str,
        *,
        periods: Iterable[str],
        points: int,
        count: bool,
        budget: bool,
    ) -> None:
        """A reversal's share: the points (and the payment itself, once wholly reversed)."""
        for period in periods:
            self._add(member_id, rule_id, period, -1 if count else 0, -points)
        if budget and rule_id in self.budgets:
            self.budgets[rule_id] = max(0, self.budgets[rule_id] - points)
            self._spent.add(rule_id)

    def _add(
        self, member_id: uuid.UUID, rule_id: str, period: str, count: int, points: int
    ) -> None:
        row = self.usage.setdefault(member_id, {}).setdefault((rule_id, period), [0, 0])
        row[0] = max(0, row[0] + count)
        row[1] = max(0, row[1] + points)
        self._changed.add((member_id, rule_id, period))

    def ops(self, batch: Batch) -> list[Op]:
        rows = [((m, r, p), tuple(self.usage[m][(r, p)])) for m, r, p in self._changed]
        return [
            repository.usage_op(batch.tenant_id, rows),  # type: ignore[arg-type]
            repository.budgets_op(batch.tenant_id, ((r, self.budgets[r]) for r in self._spent)),
        ]

    def written(self, batch: Batch, ops: list[Op]) -> None:
        pass


# After the members (usage rows are read under their locks), before the books.
RULES: Slot[RulesPart] = Slot("rules", rank=30, factory=RulesPart)


def keys_to_pay(
    batch: Batch, member_id: uuid.UUID | None, event_type: str, at: datetime
) -> list[Any]:
    """What an event that may pay by rules needs: the counters of the limited rules it may
    meet, in the periods its time falls in, and the budgets of the budgeted ones."""
    rules = batch.program.ruleset
    keys: list[Any] = [BudgetKey(r) for r in rules.budgeted(event_type)]
    if member_id is None:
        return keys
    local = local_time(at, rules.timezone)
    for rule_id, pers in rules.limited(event_type):
        keys.extend(UsageKey(member_id, rule_id, f"{per}:{period_key(per, local)}") for per in pers)
    return keys


def keys_to_give_back(member_id: uuid.UUID | None, rules: Mapping[str, Any]) -> list[Any]:
    """What reversing a payment needs: the counters and budgets its rules counted in."""
    keys: list[Any] = []
    for rule_id, counted in rules.items():
        if counted.get("b"):
            keys.append(BudgetKey(rule_id))
        if member_id is not None:
            keys.extend(UsageKey(member_id, rule_id, p) for p in counted.get("p", ()))
    return keys
