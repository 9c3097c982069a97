import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.redemptions.models import Redemption


def by_idempotency_key(
    session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID, key: str
) -> Redemption | None:
    return session.execute(
        select(Redemption).where(
            Redemption.tenant_id == tenant_id,
            Redemption.member_id == member_id,
            Redemption.idempotency_key == key,
        )
    ).scalar_one_or_none()
