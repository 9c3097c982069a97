"""What the ledger counts: points, or money in one currency. Amounts are integers in the
asset's unit (a point, or the currency's minor unit)."""

from enum import StrEnum

POINTS = "points"


class Account(StrEnum):
    """Accounts are named, not stored. A wallet has `available` and `pending` (entries carry
    the wallet id); the program has the others (entries with no wallet id). Wallet accounts
    are positive when the program owes the holder; each posting's program entries mirror
    them, so every posting sums to zero.

    `transferred` is a clearing account: a transfer's two postings (out of one wallet, into
    another) move what the first held and its lifetime through it, so it nets to zero over
    every transfer."""

    AVAILABLE = "available"
    PENDING = "pending"
    ISSUED = "issued"
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    ADJUSTED = "adjusted"
    WRITTEN_OFF = "written_off"
    TRANSFERRED = "transferred"


WALLET_ACCOUNTS = (Account.AVAILABLE, Account.PENDING)
PROGRAM_ACCOUNTS = (
    Account.ISSUED,
    Account.REDEEMED,
    Account.EXPIRED,
    Account.ADJUSTED,
    Account.WRITTEN_OFF,
    Account.TRANSFERRED,
)


class Kind(StrEnum):
    """What a posting does."""

    EARN = "earn"
    VEST = "vest"
    CLAW_BACK = "claw_back"
    WRITE_OFF = "write_off"
    ADJUST = "adjust"
    REDEEM = "redeem"
    EXPIRE = "expire"
    # Everything one wallet holds moved to another of the same asset (a duplicate member
    # merged into the surviving one): one posting out of the first, one into the second.
    TRANSFER = "transfer"


class LotStatus(StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"


def is_money(asset: str) -> bool:
    return asset != POINTS
