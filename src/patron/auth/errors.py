from patron.errors import Conflict, Forbidden, NotFound, Unauthorized


class TenantNotFound(NotFound):
    title = "Tenant not found"
    type_slug = "tenant-not-found"


class TenantExists(Conflict):
    title = "Tenant exists"
    type_slug = "tenant-exists"


class InvalidPublishableKey(Unauthorized):
    title = "Invalid publishable key"
    type_slug = "invalid-publishable-key"


class InvalidMemberToken(Unauthorized):
    title = "Invalid member token"
    type_slug = "invalid-member-token"


class NotForStorefront(Forbidden):
    """Storefront credentials (a publishable key, a member token) on a route that takes only
    a secret API key."""

    title = "Not for the storefront"
    type_slug = "not-for-storefront"


class OtherMember(Forbidden):
    title = "Another member"
    type_slug = "other-member"


class KeyNotFound(NotFound):
    title = "API key not found"
    type_slug = "key-not-found"


class AmbiguousKey(Conflict):
    title = "Ambiguous API key prefix"
    type_slug = "ambiguous-key"
