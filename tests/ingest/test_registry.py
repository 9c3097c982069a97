"""The handler registry: which handlers react to which event type, in which order, with which
schema. No database: a registry is plain data, and `added` must leave it as it found it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pytest
from pydantic import ValidationError

import patron.handlers  # noqa: F401  (registers the built-in handlers)
from patron.events.schemas import EventBase, Strict
from patron.ingest.batch import Batch, Item, Outcome, Status
from patron.ingest.registry import Handler, Registry, handler, registry


class PingData(Strict):
    note: str


class Ping(EventBase):
    type: Literal["test.ping"]
    data: PingData


class PongData(Strict):
    count: int


class Pong(EventBase):
    type: Literal["test.pong"]
    data: PongData


class PingV2(EventBase):
    """Another schema for the same type name (a later version of a test event)."""

    type: Literal["test.ping"]
    data: PongData


def noop(batch: Batch, item: Item) -> Outcome:
    return Outcome(Status.NO_EFFECT, "nothing")


def make(event_type: str, schema: type[EventBase] | None = None) -> Handler:
    """A handler of its own (handlers compare by identity)."""

    def apply(batch: Batch, item: Item) -> Outcome:
        return Outcome(Status.NO_EFFECT, event_type)

    return Handler(event_type=event_type, apply=apply, schema=schema)


def body(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "evt-1",
        "type": event_type,
        "occurred_at": "2026-03-01T12:00:00Z",
        "customer": {"external_id": "c1"},
        "data": data,
    }


def snapshot(r: Registry) -> dict[str, list[Handler]]:
    """What a registry dispatches to, by event type (through its public methods)."""
    return {t: list(r.handlers(t)) for t in r.event_types()}


@pytest.fixture
def fresh() -> Iterator[Registry]:
    yield Registry()


class TestTheFirstHandlerGivesTheSchema:
    def test_a_new_type_without_a_schema_is_refused(self, fresh: Registry) -> None:
        with pytest.raises(ValueError, match="must give the event's schema"):
            fresh.register(make("test.ping"))
        assert fresh.event_types() == []

    def test_later_handlers_of_a_known_type_may_leave_the_schema_out(self, fresh: Registry) -> None:
        first, second = make("test.ping", Ping), make("test.ping")
        fresh.register(first)
        fresh.register(second)
        assert fresh.handlers("test.ping") == [first, second]
        assert fresh.schemas() == [Ping]


class TestHandlersRunInRegistrationOrder:
    def test_handlers_of_a_type_come_back_in_the_order_registered(self, fresh: Registry) -> None:
        a, b, c = make("test.ping", Ping), make("test.ping"), make("test.ping")
        for h in (a, c, b):
            fresh.register(h)
        assert fresh.handlers("test.ping") == [a, c, b]

    def test_types_are_listed_in_the_order_they_first_appeared(self, fresh: Registry) -> None:
        fresh.register(make("test.pong", Pong))
        fresh.register(make("test.ping", Ping))
        assert fresh.event_types() == ["test.pong", "test.ping"]
        assert fresh.schemas() == [Pong, Ping]

    def test_the_decorator_registers_the_function_and_returns_it_unchanged(
        self, fresh: Registry
    ) -> None:
        decorated = handler("test.ping", schema=Ping, into=fresh)(noop)
        assert decorated is noop
        [registered] = fresh.handlers("test.ping")
        assert registered.apply is noop and registered.schema is Ping
        assert registered.name == f"{__name__}.noop"


class TestUnregister:
    def test_unregistering_one_of_two_keeps_the_other_and_the_schema(self, fresh: Registry) -> None:
        first, second = make("test.ping", Ping), make("test.ping")
        fresh.register(first)
        fresh.register(second)
        fresh.unregister(first)
        assert fresh.handlers("test.ping") == [second]
        assert fresh.schemas() == [Ping]

    def test_unregistering_the_last_handler_forgets_the_type(self, fresh: Registry) -> None:
        only = make("test.ping", Ping)
        fresh.register(only)
        fresh.unregister(only)
        assert fresh.event_types() == [] and fresh.schemas() == []
        with pytest.raises(LookupError):
            fresh.handlers("test.ping")


class TestUnknownTypes:
    def test_asking_for_the_handlers_of_an_unknown_type_raises_lookup_error(
        self, fresh: Registry
    ) -> None:
        fresh.register(make("test.ping", Ping))
        with pytest.raises(LookupError, match=r"test\.pong"):
            fresh.handlers("test.pong")

    def test_the_global_registry_knows_no_order_shipped(self) -> None:
        with pytest.raises(LookupError):
            registry.handlers("order.shipped")


class TestAddedRestoresTheRegistry:
    def test_handlers_are_registered_inside_the_block_only(self, fresh: Registry) -> None:
        base = make("test.ping", Ping)
        fresh.register(base)
        before = snapshot(fresh)
        extra, new = make("test.ping"), make("test.pong", Pong)
        with fresh.added(extra, new):
            assert fresh.handlers("test.ping") == [base, extra]
            assert fresh.handlers("test.pong") == [new]
        assert snapshot(fresh) == before
        assert fresh.schemas() == [Ping]

    def test_the_registry_is_restored_when_the_block_raises(self, fresh: Registry) -> None:
        base = make("test.ping", Ping)
        fresh.register(base)
        before = snapshot(fresh)
        with pytest.raises(RuntimeError, match="boom"), fresh.added(make("test.pong", Pong)):
            raise RuntimeError("boom")
        assert snapshot(fresh) == before

    def test_the_global_registry_is_restored_too(self) -> None:
        before = snapshot(registry)
        extra = make("order.placed")
        with pytest.raises(RuntimeError), registry.added(extra, make("test.ping", Ping)):
            assert registry.handlers("order.placed")[-1] is extra
            raise RuntimeError("boom")
        assert snapshot(registry) == before

    def test_a_refused_handler_leaves_nothing_registered(self, fresh: Registry) -> None:
        with pytest.raises(ValueError), fresh.added(make("test.ping", Ping), make("test.pong")):
            pass
        assert fresh.event_types() == []


class TestValidation:
    def test_the_adapter_validates_each_registered_type_to_its_own_model(
        self, fresh: Registry
    ) -> None:
        fresh.register(make("test.ping", Ping))
        fresh.register(make("test.pong", Pong))
        ping = fresh.adapter().validate_python(body("test.ping", {"note": "hi"}))
        pong = fresh.adapter().validate_python(body("test.pong", {"count": 3}))
        assert isinstance(ping, Ping) and ping.data.note == "hi"
        assert isinstance(pong, Pong) and pong.data.count == 3

    def test_errors_are_reported_under_the_fields_of_the_events_own_type(
        self, fresh: Registry
    ) -> None:
        fresh.register(make("test.ping", Ping))
        fresh.register(make("test.pong", Pong))
        with pytest.raises(ValidationError) as caught:
            fresh.adapter().validate_python(body("test.pong", {"count": "many"}))
        assert [e["loc"] for e in caught.value.errors()] == [("test.pong", "data", "count")]

    def test_the_adapter_follows_types_added_and_removed(self, fresh: Registry) -> None:
        fresh.register(make("test.ping", Ping))
        with fresh.added(make("test.pong", Pong)):
            event = fresh.adapter().validate_python(body("test.pong", {"count": 1}))
            assert isinstance(event, Pong)
        with pytest.raises(ValidationError):
            fresh.adapter().validate_python(body("test.pong", {"count": 1}))

    def test_the_global_adapter_knows_every_built_in_type(self) -> None:
        assert {"order.placed", "order.refunded", "order.cancelled", "member.enrolled"} <= set(
            registry.event_types()
        )
        event = registry.adapter().validate_python(body("order.cancelled", {"order_id": "o1"}))
        assert event.type == "order.cancelled" and event.data.order_id == "o1"

    def test_a_type_registered_again_with_another_schema_is_validated_with_the_new_one(
        self, fresh: Registry
    ) -> None:
        with fresh.added(make("test.ping", Ping)):
            event = fresh.adapter().validate_python(body("test.ping", {"note": "x"}))
            assert isinstance(event, Ping)
        with fresh.added(make("test.ping", PingV2)):
            event = fresh.adapter().validate_python(body("test.ping", {"count": 2}))
            assert isinstance(event, PingV2)
