from patron.errors import Conflict, NotFound


class EventConflict(Conflict):
    title = "Event id reused"
    type_slug = "event-id-reused"


class EventInFlight(Conflict):
    """The same event id is being ingested by another request right now. The edge retries
    once the other has committed; a client sees this only if that keeps happening."""

    title = "Event in flight"
    type_slug = "event-in-flight"


class EventNotFound(NotFound):
    title = "Event not found"
    type_slug = "event-not-found"
