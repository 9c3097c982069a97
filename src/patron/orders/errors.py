from patron.errors import Conflict


class OrderExists(Conflict):
    title = "Order already reported"
    type_slug = "order-exists"
