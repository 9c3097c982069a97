"""CEL expressions of the rules: what they can read, compiling and type-checking them when a
program is saved, and evaluating them per event.

The library is `cel-expr-python`, Google's CEL runtime (decision 0013). It type-checks
against declared variables; Patron declares them as protobuf messages built here at run time
(no `.proto` files to generate), so `order.totl` or `order.total >= "x"` is refused with its
line and column when the program is saved, never found when an event arrives.

What an expression sees (every field is always present; an absent text is "", an absent
number 0):

- `order`: id, currency, total, subtotal, shipping, tax, discount (order-level), base (the
  earning base), lines (sku, product_id, category, tags, quantity, unit_price, discount,
  amount, gift_card); money as a double in currency units, so compare with `50.0`.
- `line`: one order line, in a rule's line filter.
- `member`: id, email, name, birthday ("1990-12-10"), tier, enrolled_via, enrolled_at,
  accepts_marketing, orders, spend, first_order_at and last_order_at (timestamps;
  `has(member.first_order_at)`), points (available): as they were before the event.
- `event`: id, type, occurred_at.
- `data`: the event's data, typed by its type (a review's rating, a share's network, a
  custom event's fields as the program declares them).
- `now`: when the event happened, in the shop's time zone: time (a timestamp), date
  ("2026-11-28"), year, month, day, weekday (1 = Monday .. 7 = Sunday), hour, minute.
- `program`: name, currency, version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from cel_expr_python import cel
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2
from google.protobuf.descriptor_pb2 import FieldDescriptorProto as F

PACKAGE = "patron"
FieldType = Literal["string", "integer", "number", "boolean", "strings", "timestamp"]

_SCALARS = {
    "string": (F.TYPE_STRING, F.LABEL_OPTIONAL, None),
    "integer": (F.TYPE_INT64, F.LABEL_OPTIONAL, None),
    "number": (F.TYPE_DOUBLE, F.LABEL_OPTIONAL, None),
    "boolean": (F.TYPE_BOOL, F.LABEL_OPTIONAL, None),
    "strings": (F.TYPE_STRING, F.LABEL_REPEATED, None),
    "timestamp": (F.TYPE_MESSAGE, F.LABEL_OPTIONAL, ".google.protobuf.Timestamp"),
}

# The messages every program has. A field is (name, type) or (name, ".patron.Message",
# repeated).
LINE = {
    "id": "string",
    "sku": "string",
    "product_id": "string",
    "category": "string",
    "tags": "strings",
    "quantity": "integer",
    "unit_price": "number",
    "discount": "number",
    "amount": "number",
    "gift_card": "boolean",
}
ORDER = {
    "id": "string",
    "currency": "string",
    "total": "number",
    "subtotal": "number",
    "shipping": "number",
    "tax": "number",
    "discount": "number",
    "base": "number",
}
MEMBER = {
    "id": "string",
    "email": "string",
    "name": "string",
    "tier": "string",
    "enrolled_via": "string",
    "orders": "integer",
    "spend": "number",
    "points": "integer",
    "first_order_at": "timestamp",
    "last_order_at": "timestamp",
    "birthday": "string",
    "enrolled_at": "timestamp",
    "accepts_marketing": "boolean",
}
EVENT = {"id": "string", "type": "string", "occurred_at": "timestamp"}
NOW = {
    "time": "timestamp",
    "date": "string",
    "year": "integer",
    "month": "integer",
    "day": "integer",
    "weekday": "integer",
    "hour": "integer",
    "minute": "integer",
}
PROGRAM = {"name": "string", "currency": "string", "version": "integer"}

_NAME = re.compile(r"[^A-Za-z0-9]")


def data_message_name(event_type: str) -> str:
    """The message of an event type's `data` ("custom.quiz_done" -> "Data_custom_quiz_done")."""
    return "Data_" + _NAME.sub("_", event_type)


class ExpressionError(ValueError):
    """An expression that does not compile or check: the message carries line and column."""


@dataclass(frozen=True)
class Schema:
    """The message types of one program: the fixed ones and the `data` of each event type
    its rules listen to (custom events included)."""

    data: tuple[tuple[str, tuple[tuple[str, FieldType], ...]], ...]

    @classmethod
    def of(cls, data: Mapping[str, Mapping[str, FieldType]]) -> Schema:
        return cls(tuple(sorted((t, tuple(sorted(f.items()))) for t, f in data.items())))


def _message(fd: descriptor_pb2.FileDescriptorProto, name: str, fields: Mapping[str, str]) -> None:
    msg = fd.message_type.add(name=name)
    for number, (field, kind) in enumerate(fields.items(), start=1):
        type_, label, type_name = _SCALARS[kind]
        added = msg.field.add(name=field, number=number, type=type_, label=label)
        if type_name:
            added.type_name = type_name


class Types:
    """A descriptor pool, the message classes and a CEL environment per event type."""

    def __init__(self, schema: Schema) -> None:
        fd = descriptor_pb2.FileDescriptorProto(
            name=f"{PACKAGE}/rules.proto",
            package=PACKAGE,
            syntax="proto3",
            dependency=["google/protobuf/timestamp.proto"],
        )
        _message(fd, "Line", LINE)
        order = {**ORDER}
        _message(fd, "Order", order)
        fd.message_type[-1].field.add(
            name="lines",
            number=len(order) + 1,
            type=F.TYPE_MESSAGE,
            label=F.LABEL_REPEATED,
            type_name=f".{PACKAGE}.Line",
        )
        for name, fields in (("Member", MEMBER), ("Event", EVENT), ("Now", NOW)):
            _message(fd, name, fields)
        _message(fd, "Program", PROGRAM)
        self.data_types = {event_type: dict(spec) for event_type, spec in schema.data}
        for event_type, data_fields in schema.data:
            _message(fd, data_message_name(event_type), dict(data_fields))
        self.pool = descriptor_pool.DescriptorPool()
        self.pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
        self.pool.Add(fd)
        self.classes = {
            m.name: message_factory.GetMessageClass(
                self.pool.FindMessageTypeByName(f"{PACKAGE}.{m.name}")
            )
            for m in fd.message_type
        }
        self._envs: dict[tuple[str, bool], Any] = {}

    def env(self, event_type: str, *, line: bool = False) -> Any:
        key = (event_type, line)
        env = self._envs.get(key)
        if env is None:
            variables = {
                name: cel.Type(f"{PACKAGE}.{message}")
                for name, message in (
                    ("member", "Member"),
                    ("event", "Event"),
                    ("now", "Now"),
                    ("program", "Program"),
                )
            }
            if event_type.startswith("order."):
                variables["order"] = cel.Type(f"{PACKAGE}.Order")
            if event_type in self.data_types:
                variables["data"] = cel.Type(f"{PACKAGE}.{data_message_name(event_type)}")
            if line:
                variables["line"] = cel.Type(f"{PACKAGE}.Line")
            env = self._envs[key] = cel.NewEnv(descriptor_pool=self.pool, variables=variables)
        return env

    def message(self, message_name: str, /, **fields: Any) -> Any:
        return self.classes[message_name](**fields)


@cache
def types_for(schema: Schema) -> Types:
    return Types(schema)


_POSITION = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*?)(?:\n|$)")

Returns = Literal["bool", "number", "string"]
_RETURNS: dict[Returns, tuple[Any, ...]] = {
    "bool": (cel.Type.BOOL,),
    "number": (cel.Type.INT, cel.Type.DOUBLE),
    "string": (cel.Type.STRING,),
}
_RETURN_WORDS = {"bool": "true or false", "number": "a number", "string": "a string"}


def _explain(raw: str) -> str:
    """cel-cpp's message as one sentence: "at 1:13: no matching overload ..." with a hint for
    the mistake everyone makes first (an integer compared with money)."""
    found = _POSITION.search(raw)
    if found is None:
        return raw.strip().splitlines()[0] if raw.strip() else "invalid expression"
    line, column, message = found.groups()
    text = f"at {line}:{column}: {message.strip()}"
    if "(double, int)" in message or "(int, double)" in message:
        text += " (money and other decimals are doubles: write 50.0, not 50)"
    return text


def compile_expression(
    types: Types, event_type: str, source: str, returns: Returns, *, line: bool = False
) -> Any:
    """The checked program of `source`, or `ExpressionError` saying where and why."""
    env = types.env(event_type, line=line)
    try:
        compiled = env.compile(source)
    except Exception as exc:  # the binding raises a plain exception with cel-cpp's status
        raise ExpressionError(_explain(str(exc))) from None
    got = compiled.return_type()
    if got != cel.Type.DYN and not any(got == t for t in _RETURNS[returns]):
        raise ExpressionError(f"must give {_RETURN_WORDS[returns]}, but gives {got.name()}")
    return compiled


def compile_line_filter(types: Types, event_type: str, source: str) -> Any:
    """A line filter, checked alone (so positions are the merchant's), then compiled as one
    expression over every line of the order: one evaluation per event, not per line."""
    compile_expression(types, event_type, source, "bool", line=True)
    return types.env(event_type).compile(f"order.lines.map(line, ({source}))")


class EvaluationError(Exception):
    """An expression that failed on one event's values (a division by zero...)."""


def evaluate(compiled: Any, activation: Any) -> Any:
    """The expression's value; `EvaluationError` if it failed on these values (cel-cpp gives
    some failures back as an error value rather than raising)."""
    try:
        value = compiled.eval(activation)
    except Exception as exc:
        raise EvaluationError(str(exc).splitlines()[0] if str(exc) else "failed") from None
    if value.type() == cel.Type.ERROR:
        raise EvaluationError(str(value.plain_value()).splitlines()[0])
    return value.plain_value()
