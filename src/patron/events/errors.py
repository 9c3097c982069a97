from patron.errors import Conflict, NotFound


class EventConflict(Conflict):
    title = "Event id reused"
    type_slug = "event-id-reused"


class OrderExists(Conflict):
    title = "Order already reported"
    type_slug = "order-exists"


class EventNotFound(NotFound):
    title = "Event not found"
    type_slug = "event-not-found"
