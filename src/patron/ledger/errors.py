from patron.errors import Conflict


class InsufficientBalance(Conflict):
    """A debit asked for more than the wallet holds (money wallets)."""

    title = "Insufficient balance"
    type_slug = "insufficient-balance"


class InsufficientPoints(InsufficientBalance):
    title = "Insufficient points"
    type_slug = "insufficient-points"
