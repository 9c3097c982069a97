from patron.errors import Conflict, NotFound


class EventConflict(Conflict):
    title = "Event id reused"
    type_slug = "event-id-reused"
    default_field = "id"


class EventInFlight(Conflict):
    """The same event id is being ingested by another request right now. The edge retries
    once the other has committed; a client sees this only if that keeps happening."""

    title = "Event in flight"
    type_slug = "event-in-flight"
    default_field = "id"


class EventNotFound(NotFound):
    title = "Event not found"
    type_slug = "event-not-found"
