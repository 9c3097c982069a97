"""Input fields that take exactly the JSON type the OpenAPI document gives them, and text
that a database can store.

Left to itself, pydantic converts: `0` and "yes" pass for booleans, "12" and 12.0 for
integers, a number (or a string of digits) for a date or a time, read as seconds since 1970.
A client that sends those has made a mistake; the API says so (422) instead of guessing.
Dates and times stay strings in JSON ("1990-12-10", "2026-11-22T10:15:00Z"); values that are
already `date`/`datetime` objects (from Python callers) pass.
"""

import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StrictBool, StrictInt

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


def _date_string(value: Any) -> Any:
    if value is None or isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError('must be a date written YYYY-MM-DD, such as "1990-12-10"')
    return value


def _datetime_string(value: Any) -> Any:
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATETIME.match(value):
        raise ValueError(
            'must be a date and time in ISO 8601 with a time zone, such as "2026-11-22T10:15:00Z"'
        )
    return value


def no_control_characters(value: Any) -> Any:
    """Free text may hold tabs and line breaks, no other control character: PostgreSQL cannot
    store NUL at all, and the others are never meant (they hide in what people read)."""
    if isinstance(value, str):
        for char in value:
            if char not in "\t\n\r" and unicodedata.category(char) in ("Cc", "Cs"):
                raise ValueError(f"must not contain control characters (found U+{ord(char):04X})")
    return value


JsonBool = StrictBool
JsonInt = StrictInt
# As metadata: `Annotated[date | None, DateString]` (None passes).
DateString = BeforeValidator(_date_string)
DateTimeString = BeforeValidator(_datetime_string)
NoControl = AfterValidator(no_control_characters)
Text = Annotated[str, NoControl]
