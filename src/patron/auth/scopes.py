"""What an API key may do. A key created without `--scope` gets them all."""

EVENTS_READ = "events:read"
EVENTS_WRITE = "events:write"
MEMBERS_READ = "members:read"
MEMBERS_WRITE = "members:write"
POINTS_WRITE = "points:write"
PROGRAM_READ = "program:read"
PROGRAM_WRITE = "program:write"

ALL_SCOPES = (
    EVENTS_READ,
    EVENTS_WRITE,
    MEMBERS_READ,
    MEMBERS_WRITE,
    POINTS_WRITE,
    PROGRAM_READ,
    PROGRAM_WRITE,
)

# What a publishable key reads, alone: what the shop shows every visitor. The rewards catalog's
# read scope joins this when the catalog exists.
PUBLIC_SCOPES = (PROGRAM_READ,)
# What a member token may do on top, for its own member only, and only as far as the secret
# key that signed it may (see docs/storefront.md).
MEMBER_SCOPES = (MEMBERS_READ, POINTS_WRITE)
