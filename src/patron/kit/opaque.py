"""Ids the shop chooses (customer ids, event ids, order ids) are opaque strings.

Any printable character is allowed, "/" included: Shopify names a customer
`gid://shopify/Customer/7001`. What is refused is what would make two ids look the same
while being different: leading or trailing whitespace, and control characters (NUL, tabs,
line breaks). An id must round-trip on every route, so a path segment carries it
percent-encoded (`/v1/members/gid:%2F%2Fshopify%2FCustomer%2F7001`), and `KeepEncodedSlashes`
keeps an encoded "/" from splitting the segment in two before routing.
"""

import re
import unicodedata
from typing import Annotated, Any
from urllib.parse import unquote, unquote_to_bytes

from pydantic import AfterValidator, Field
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_ID = 255


# Printable ASCII, not beginning or ending with a space: nearly every id, checked in C. Ingestion
# checks several ids per event, and the character-by-character check below costs about 25 ms
# per batch of 1,000 events.
_PLAIN = re.compile(r"[!-~](?:[ -~]*[!-~])?")


def check_id(value: str) -> str:
    if _PLAIN.fullmatch(value):
        return value
    if value != value.strip():
        raise ValueError("must not begin or end with whitespace")
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cs") or char in "\u2028\u2029":
            raise ValueError(f"must not contain control characters (found U+{ord(char):04X})")
    return value


Id = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID),
    AfterValidator(check_id),
]


def _path_id(value: Any) -> Any:
    # The middleware left "%" and "/" escaped inside segments; nothing else is escaped. The
    # segment's own limit allows for escapes, so the id's is checked once decoded.
    if not isinstance(value, str):
        return value
    decoded = check_id(unquote(value))
    if len(decoded) > MAX_ID:
        raise ValueError(f"must be at most {MAX_ID} characters (got {len(decoded)})")
    return decoded


def path_id(description: str, example: str) -> Any:
    """A path parameter carrying an opaque id, as `Annotated` metadata for FastAPI."""
    from fastapi import Path

    return (
        Path(
            min_length=1,
            max_length=3 * MAX_ID,
            description=f"{description} Percent-encode it as a path segment: "
            '"/" as %2F, "%" as %25.',
            examples=[example],
        ),
        AfterValidator(_path_id),
    )


def _segment(raw: bytes) -> str:
    text = unquote_to_bytes(raw).decode("utf-8", "replace")
    return text.replace("%", "%25").replace("/", "%2F")


class KeepEncodedSlashes:
    """ASGI middleware. Servers decode the path before routing, so `a%2Fb` would reach the
    router as two segments. This rebuilds the decoded path from the raw one, segment by
    segment, leaving "/" (and "%", so that the escape is reversible) encoded inside a
    segment; `path_id` parameters decode them. A path with no "%" is left as it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path")
            if raw and b"%" in raw:
                # In place: middleware outside this one reads what routing adds to the scope.
                scope["path"] = "/".join(_segment(s) for s in raw.split(b"/"))
        await self.app(scope, receive, send)
