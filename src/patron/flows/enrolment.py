from patron.events.schemas import MemberEnrolled
from patron.flows.context import Applied, Ingestion


def member_enrolled(ctx: Ingestion, event: MemberEnrolled) -> Applied:
    customer = event.customer.external_id
    state = ctx.members.get(customer)
    if state is not None and state.joined_by == ctx.index:
        ctx.member(customer)
        return Applied(
            "applied",
            f"{customer} joined the program (via {event.data.source})",
            member=customer,
            enrolled=True,
        )
    ctx.member(customer)
    return Applied("no_effect", f"{customer} is a member already", member=customer)
