from patron.errors import Conflict, NotFound


class TenantNotFound(NotFound):
    title = "Tenant not found"
    type_slug = "tenant-not-found"


class TenantExists(Conflict):
    title = "Tenant exists"
    type_slug = "tenant-exists"
