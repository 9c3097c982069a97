from patron.errors import Conflict, NotFound


class MemberNotFound(NotFound):
    title = "Member not found"
    type_slug = "member-not-found"

    def __init__(self, external_id: str, *, field: str = "external_id") -> None:
        super().__init__(f"no member with external id {external_id!r}", field=field)


class MemberSuspended(Conflict):
    title = "Member suspended"
    type_slug = "member-suspended"

    def __init__(self, external_id: str) -> None:
        super().__init__(
            f"member {external_id!r} is suspended: it earns and spends nothing",
            field="external_id",
        )


class MemberMerged(Conflict):
    title = "Member merged"
    type_slug = "member-merged"

    def __init__(self, external_id: str, into: str, *, field: str = "external_id") -> None:
        super().__init__(
            f"member {external_id!r} was merged into {into!r}: it earns and spends nothing, "
            f"and its later events reach {into!r}",
            field=field,
            merged_into=into,
        )


class MemberErased(Conflict):
    title = "Member erased"
    type_slug = "member-erased"

    def __init__(self, external_id: str, *, field: str = "external_id") -> None:
        super().__init__(
            f"member {external_id!r} was erased: it earns and spends nothing", field=field
        )


class MergeKeyReused(Conflict):
    title = "Idempotency key reused"
    type_slug = "idempotency-key-reused"
    default_field = "Idempotency-Key"


class MemberBusy(Conflict):
    """A merge met a refund or cancellation of the duplicate's orders in flight."""

    title = "Member busy"
    type_slug = "member-busy"
