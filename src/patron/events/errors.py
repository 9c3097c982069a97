from patron.errors import Conflict


class EventConflict(Conflict):
    title = "Event id reused"
    type_slug = "event-id-reused"


class OrderExists(Conflict):
    title = "Order already reported"
    type_slug = "order-exists"
