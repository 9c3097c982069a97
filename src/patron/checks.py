"""Every invariant `patron verify-ledger` checks: the ledger's, and those of the domains whose
rows the ledger's refer to."""

import uuid

from sqlalchemy.orm import Session

from patron.ledger.verify import Violation, verify
from patron.members.verify import CHECKS as MEMBER_CHECKS
from patron.orders.verify import CHECKS as ORDER_CHECKS


def verify_all(session: Session, tenant_id: uuid.UUID | None = None) -> list[Violation]:
    return verify(session, tenant_id, extra={**MEMBER_CHECKS, **ORDER_CHECKS})
