from patron.errors import Conflict


class IdempotencyKeyReused(Conflict):
    title = "Idempotency key reused"
    type_slug = "idempotency-key-reused"
    default_field = "Idempotency-Key"
