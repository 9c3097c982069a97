"""Every domain's event handlers, registered with the ingestion pipeline on import (as
`api.py` gathers every domain's router). A new event type, or a domain that reacts to an
existing one, is a handlers module of its own and a line here."""

from patron.engagement import handlers as engagement_handlers
from patron.members import handlers as members_handlers
from patron.orders import handlers as orders_handlers

MODULES = (members_handlers, orders_handlers, engagement_handlers)
