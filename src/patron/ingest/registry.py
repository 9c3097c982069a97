"""Which handlers react to which event types, and what each needs loaded.

A domain takes part in ingestion with two things, both registered here and neither an edit to
the pipeline:

- a `Slot`: its share of an ingestion (a `Part`), which loads and locks what the events need
  from its tables before any is applied, and contributes the write operations for its tables
  afterwards. `rank` is the order parts are loaded in, which is also the lock order
  (orders, then members, then the ledger's wallets), the same for every ingestion so that
  concurrent ones cannot deadlock;
- `Handler`s: for one event type, the keys it needs from each slot (`needs`) and `apply`,
  pure code over the loaded parts that changes them in memory and says what it did.

Several handlers may react to one event type (the orders domain earns points on
`order.placed`, a tiers domain could count the order): they run in registration order, and
the first one's outcome is the event's status.

A handler registered for a type ending in `.*` (`custom.*`) handles every type with that
prefix (`custom.trail_report`): the shop's own event types, which the program declares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Generic, Protocol, TypeVar, Union

from pydantic import Discriminator, Field, Tag, TypeAdapter
from sqlalchemy.orm import Session

from patron.db.bulk import Op
from patron.events.schemas import EventBase

if TYPE_CHECKING:
    from patron.ingest.batch import Batch, Item, Outcome


class Part(Protocol):
    """One domain's share of one ingestion."""

    def load(self, session: Session, batch: Batch, wants: list[tuple[Item, Any]]) -> None:
        """Lock and read what `wants` (each event with a key it asked for) names."""

    def ops(self, batch: Batch) -> list[Op]:
        """The writes for this domain's tables, once every event was applied."""

    def written(self, batch: Batch, ops: list[Op]) -> None:
        """Check what the writes reported (rows another transaction inserted first...)."""


P = TypeVar("P", bound=Part)
KeyFn = Callable[["Batch", "Item"], Iterable[Any]]


@dataclass(frozen=True, eq=False)
class Slot(Generic[P]):
    name: str
    rank: int
    factory: Callable[[], P]

    def __repr__(self) -> str:
        return f"Slot({self.name!r}, rank={self.rank})"


@dataclass(frozen=True, eq=False)
class Handler:
    event_type: str
    apply: Callable[[Batch, Item], Outcome | None]
    # For each slot the handler reads, the keys an event asks of it.
    needs: Mapping[Slot[Any], KeyFn] = field(default_factory=dict)
    # The event's model. The first handler registered for a type must give it.
    schema: type[EventBase] | None = None

    @property
    def name(self) -> str:
        return f"{self.apply.__module__}.{self.apply.__qualname__}"


class Registry:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._schemas: dict[str, type[EventBase]] = {}
        self._adapter: tuple[tuple[tuple[str, type[EventBase]], ...], TypeAdapter[Any]] | None = (
            None
        )

    def register(self, handler: Handler) -> Handler:
        if handler.event_type not in self._schemas:
            if handler.schema is None:
                raise ValueError(
                    f"the first handler of {handler.event_type!r} must give the event's schema"
                )
            self._schemas[handler.event_type] = handler.schema
        self._handlers.setdefault(handler.event_type, []).append(handler)
        return handler

    def unregister(self, handler: Handler) -> None:
        handlers = self._handlers.get(handler.event_type, [])
        handlers.remove(handler)
        if not handlers:
            del self._handlers[handler.event_type]
            del self._schemas[handler.event_type]

    @contextmanager
    def added(self, *handlers: Handler) -> Iterator[None]:
        """Handlers registered for the duration of a block (tests, simulations)."""
        registered: list[Handler] = []
        try:
            for h in handlers:
                registered.append(self.register(h))
            yield
        finally:
            for h in reversed(registered):
                self.unregister(h)

    def handlers(self, event_type: str) -> list[Handler]:
        handlers = self._handlers.get(event_type)
        if not handlers:
            handlers = self._handlers.get(self._pattern(event_type) or "")
        if not handlers:
            raise LookupError(f"no handler is registered for {event_type!r}")
        return handlers

    def _pattern(self, event_type: str) -> str | None:
        """The `prefix.*` registration that covers `event_type`, if any."""
        for registered in self._schemas:
            if registered.endswith(".*") and event_type.startswith(registered[:-1]):
                return registered
        return None

    def _tag(self, value: Any) -> str | None:
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        if not isinstance(kind, str):
            return None
        return kind if kind in self._schemas else (self._pattern(kind) or kind)

    def event_types(self) -> list[str]:
        return list(self._schemas)

    def schemas(self) -> list[type[EventBase]]:
        return list(self._schemas.values())

    def union(self) -> Any:
        """The registered event types as one discriminated union (for validation and the
        OpenAPI document): a bad event is reported under the fields of its own type."""
        if not any(t.endswith(".*") for t in self._schemas):
            return Annotated[Union[tuple(self.schemas())], Field(discriminator="type")]  # noqa: UP007
        tagged = tuple(Annotated[schema, Tag(t)] for t, schema in self._schemas.items())
        return Annotated[Union[tagged], Discriminator(self._tag)]  # noqa: UP007

    def adapter(self) -> TypeAdapter[Any]:
        """A validator of one event of any registered type, built once per set of types."""
        # Keyed by the schemas themselves: a type registered again with another schema gets
        # a new validator.
        key = tuple(self._schemas.items())
        if self._adapter is None or self._adapter[0] != key:
            self._adapter = (key, TypeAdapter(self.union()))
        return self._adapter[1]


def handler(
    event_type: str,
    *,
    schema: type[EventBase] | None = None,
    needs: Mapping[Slot[Any], KeyFn] | None = None,
    into: Registry | None = None,
) -> Callable[[Callable[[Batch, Item], Outcome | None]], Callable[[Batch, Item], Outcome | None]]:
    """Register the decorated function as a handler of `event_type`."""

    def register(
        apply: Callable[[Batch, Item], Outcome | None],
    ) -> Callable[[Batch, Item], Outcome | None]:
        (into or registry).register(
            Handler(event_type=event_type, apply=apply, needs=dict(needs or {}), schema=schema)
        )
        return apply

    return register


registry = Registry()
