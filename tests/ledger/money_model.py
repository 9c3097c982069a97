"""A reference model of a money wallet (store credit in one currency, under `forbid`, with no
pending), written without the engine. The engine's and the services' property tests of money
wallets both check the ledger against it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hypothesis import strategies as st


@dataclass
class MoneyLot:
    """The model's view of one credit: what is left of it and when it expires."""

    seq: int
    remaining: int
    earned_at: datetime
    expires_at: datetime | None

    def debit_order(self) -> tuple[Any, ...]:
        # Soonest-expiring first, never-expiring last; then the oldest, then the first made.
        return (
            self.expires_at is None,
            self.expires_at or self.earned_at,
            self.earned_at,
            self.seq,
        )


@dataclass
class MoneyModel:
    """What the wallet should hold, worked out without the engine."""

    available: int = 0
    # Cashback credited: refunds and corrections give money back, they are not earnings.
    lifetime: int = 0
    lots: list[MoneyLot] = field(default_factory=list)
    # Net change to the wallet by posting kind: earn, redeem, adjust, expire.
    flows: Counter[str] = field(default_factory=Counter)

    def open_lots(self) -> list[MoneyLot]:
        return [lot for lot in self.lots if lot.remaining > 0]

    def credit(self, cents: int, at: datetime, expires_at: datetime | None) -> None:
        self.lots.append(MoneyLot(len(self.lots), cents, at, expires_at))
        self.available += cents

    def debit(self, cents: int) -> None:
        left = cents
        for lot in sorted(self.open_lots(), key=MoneyLot.debit_order):
            use = min(lot.remaining, left)
            lot.remaining -= use
            left -= use
        assert left == 0, "the model debited more than it holds"
        self.available -= cents

    def expire(self, now: datetime) -> int:
        expired = 0
        for lot in self.open_lots():
            if lot.expires_at is not None and lot.expires_at <= now:
                expired += lot.remaining
                lot.remaining = 0
        self.available -= expired
        return expired


@dataclass(frozen=True)
class Take:
    """How much a debit asks of a balance: part of it, all of it, or more than it holds."""

    how: str  # part | all | over
    share: int  # percent, for part
    extra: int  # beyond the balance, for over

    def of(self, have: int) -> int:
        """A positive amount, even of an empty balance."""
        return {
            "part": max(1, have * self.share // 100),
            "all": max(1, have),
            "over": have + self.extra,
        }[self.how]


takes = st.builds(
    Take,
    how=st.sampled_from(["part", "part", "all", "over"]),
    share=st.integers(1, 100),
    extra=st.integers(1, 5_000),
)
# Days until a credit expires; None: never.
expiries: st.SearchStrategy[int | None] = st.none() | st.integers(1, 40)
