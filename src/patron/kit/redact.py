"""Removing known strings (an email, a name, a customer id) from free text and JSON values.

A string is replaced where it stands as a whole word, in any case: the customer id `1042`
is removed from "refund for 1042" but leaves "order #10420" alone, so that short ids do not
shred unrelated text. A person's name written differently (a first name alone) is not found:
only the strings given are.
"""

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[erased]"


class Redactor:
    def __init__(self, replacements: Mapping[str, str]) -> None:
        """`replacements`: each string to remove -> what to put in its place."""
        given = {k.lower(): v for k, v in replacements.items() if k and k.strip()}
        self._replacements = given
        # Longest first, so that an email is replaced whole before a customer id inside it.
        needles = sorted(given, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in needles), re.IGNORECASE)
            if needles
            else None
        )

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(
            lambda m: self._replacements.get(m.group(0).lower(), REDACTED), text
        )

    def value(self, value: Any) -> Any:
        """A JSON value with every string in it (keys too) redacted."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {self(str(k)): self.value(v) for k, v in value.items()}
        return value
