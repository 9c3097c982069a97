from patron.errors import Conflict, NotFound


class MemberNotFound(NotFound):
    title = "Member not found"
    type_slug = "member-not-found"

    def __init__(self, external_id: str) -> None:
        super().__init__(f"no member with external id {external_id!r}", field="external_id")


class MemberSuspended(Conflict):
    title = "Member suspended"
    type_slug = "member-suspended"

    def __init__(self, external_id: str) -> None:
        super().__init__(
            f"member {external_id!r} is suspended: it earns and spends nothing",
            field="external_id",
        )
