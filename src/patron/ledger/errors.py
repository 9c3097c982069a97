from patron.errors import Conflict


class InsufficientPoints(Conflict):
    title = "Insufficient points"
    type_slug = "insufficient-points"
