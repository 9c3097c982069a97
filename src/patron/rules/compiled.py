"""A program's rules compiled: expressions checked and compiled once per program version,
rules indexed by the event type they listen to and, for orders, by the SKUs, products,
categories and tags they are scoped to, so an event meets only the rules that can apply."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from patron.kit.money import to_minor
from patron.rules.expressions import (
    EvaluationError,
    ExpressionError,
    Returns,
    Schema,
    Types,
    compile_expression,
    compile_line_filter,
    data_message_name,
    types_for,
)
from patron.rules.schemas import BUILTIN_DATA, CUSTOM_PREFIX, WEEKDAYS, Rule

if TYPE_CHECKING:
    from patron.rules.engine import Evaluation, OrderIn, Slot


class RuleError(ValueError):
    """A rule that cannot be compiled: `at` is the field (`rules.3.when`)."""

    def __init__(self, at: str, message: str) -> None:
        super().__init__(message)
        self.at = at
        self.message = message


@dataclass(eq=False)
class CompiledRule:
    rule: Rule
    index: int
    when: Any = None
    filter: Any = None
    points: Any = None
    limit_keys: list[Any] = field(default_factory=list)
    weekdays: frozenset[int] = frozenset()
    # The scope's lists as sets: skus, product ids, categories, tags.
    lists: tuple[frozenset[str], ...] = (frozenset(),) * 4
    # What the rule does, and its value as the explanation shows it ("2", "0.5", "25").
    kind: str = field(init=False)
    shown: str = field(init=False)

    def __post_init__(self) -> None:
        rule = self.rule
        self.kind = rule.kind
        value = {"rate": rule.rate, "multiplier": rule.multiplier}.get(rule.kind)
        self.shown = plain(value) if value is not None else str(rule.points)
        scope = self.rule.lines
        if scope is not None:
            self.lists = tuple(
                frozenset(x) for x in (scope.skus, scope.product_ids, scope.categories, scope.tags)
            )

    def scope(
        self, ev: Evaluation, order: OrderIn, slots: list[Slot], hits: list[int] | None = None
    ) -> list[int]:
        """The slots (by index) this rule applies to; `hits`, the lines its indexed list
        names (`RuleSet.meet`), if it is indexed: no other line can be in its scope."""
        scope = self.rule.lines
        if scope is None:
            return list(range(len(slots)))
        if not order.lines:
            return []
        skus, products, categories, tags = self.lists
        picked = []
        lines = order.lines
        for i in range(len(lines)) if hits is None else hits:
            line = lines[i]
            if skus and line.sku not in skus:
                continue
            if products and line.product_id not in products:
                continue
            if categories and line.category not in categories:
                continue
            if tags and tags.isdisjoint(line.tags):
                continue
            picked.append(i)
        if self.filter is not None and picked:
            matches = ev.value(self.filter)
            picked = [i for i in picked if matches[i]]
        return picked

    def amount(self, ev: Evaluation) -> Decimal:
        """A bonus's points for this event (never negative)."""
        if self.points is None:
            return Decimal(self.rule.points if isinstance(self.rule.points, int) else 0)
        value = ev.value(self.points)
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise EvaluationError(f"points gave {value!r}, not a number") from None
        return max(amount, Decimal(0)) if amount.is_finite() else Decimal(0)


def plain(value: Decimal | Fraction) -> str:
    """A number as people write it: no exponent, no trailing zeros ("10", "0.5")."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "") else text


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _names(rule: Rule) -> frozenset[str]:
    """The words of a rule's expressions: a superset of the variables and fields they read.
    A line filter reads `order.lines` (it is compiled as a map over them)."""
    sources = [rule.when, rule.points if isinstance(rule.points, str) else None]
    sources += [limit.by for limit in rule.limits]
    if rule.lines is not None and rule.lines.filter is not None:
        sources += [rule.lines.filter, "order.lines"]
    return frozenset(name for text in sources if text for name in _NAME.findall(text))


class RuleSet:
    """One program version's rules, ready to evaluate."""

    def __init__(self, program: Any) -> None:
        self.program = program
        self.timezone: str = program.timezone
        data = {t: BUILTIN_DATA[t] for t in BUILTIN_DATA}
        for name, custom in program.custom_events.items():
            data[CUSTOM_PREFIX + name] = dict(custom.fields)
        self.types: Types = types_for(Schema.of(data))
        self.program_message = self.types.message(
            "Program",
            name=program.name,
            currency=program.currency,
            version=getattr(program, "version", 0) or 0,
        )
        self.base_rule = CompiledRule(
            Rule(id="base", name="Points per unit of currency", rate=program.points_per_unit), -1
        )
        self.by_type: dict[str, list[CompiledRule]] = {}
        # order.placed: rules every order meets, and the scoped ones by what they name.
        self._unscoped: list[CompiledRule] = []
        # By list (sku, product, category, tag), then by value.
        self._index: dict[str, dict[str, list[CompiledRule]]] = {}
        # Per event type, every name its rules' expressions spell (variables, fields, and any
        # other word): a value or field no expression names is never built for an event.
        self.reads: dict[str, frozenset[str]] = {}
        self._expressions: dict[tuple[str, str, str], Any] = {}
        for i, rule in enumerate(program.rules):
            if not rule.active:
                continue
            compiled = self._compile(i, rule)
            self.by_type.setdefault(rule.event, []).append(compiled)
            self.reads[rule.event] = self.reads.get(rule.event, frozenset()) | _names(rule)
            if rule.event == "order.placed":
                self._place(compiled)

    def data_message(self, event_type: str) -> str:
        return data_message_name(event_type)

    def _expression(self, on: str, source: str, returns: Returns | Literal["filter"]) -> Any:
        """The compiled expression, one per distinct text: rules that repeat a condition share
        it, and an event evaluates it once (`Evaluation.value` keeps its value)."""
        key = (on, source, returns)
        compiled = self._expressions.get(key)
        if compiled is None:
            if returns == "filter":
                compiled = compile_line_filter(self.types, on, source)
            else:
                compiled = compile_expression(self.types, on, source, returns)
            self._expressions[key] = compiled
        return compiled

    def _compile(self, i: int, rule: Rule) -> CompiledRule:
        at = f"rules.{i}"
        compiled = CompiledRule(rule, i)
        on = rule.event
        try:
            if rule.when is not None:
                at = f"rules.{i}.when"
                compiled.when = self._expression(on, rule.when, "bool")
            if rule.lines is not None and rule.lines.filter is not None:
                at = f"rules.{i}.lines.filter"
                compiled.filter = self._expression(on, rule.lines.filter, "filter")
            if isinstance(rule.points, str):
                at = f"rules.{i}.points"
                compiled.points = self._expression(on, rule.points, "number")
            for j, limit in enumerate(rule.limits):
                at = f"rules.{i}.limits.{j}.by"
                compiled.limit_keys.append(
                    self._expression(on, limit.by, "string") if limit.by else None
                )
        except ExpressionError as exc:
            raise RuleError(at, f"rule {rule.id!r}: {exc}") from None
        if rule.schedule is not None:
            compiled.weekdays = frozenset(WEEKDAYS.index(d) + 1 for d in rule.schedule.weekdays)
        return compiled

    def _place(self, compiled: CompiledRule) -> None:
        scope = compiled.rule.lines
        if scope is None:
            self._unscoped.append(compiled)
            return
        # Indexed by one of its lists (every list must match, so any one is a sound filter):
        # the shortest, which lets the fewest orders through.
        lists = [
            (name, values)
            for name, values in (
                ("sku", scope.skus),
                ("product", scope.product_ids),
                ("category", scope.categories),
                ("tag", scope.tags),
            )
            if values
        ]
        if not lists:
            self._unscoped.append(compiled)
            return
        name, values = min(lists, key=lambda nv: len(nv[1]))
        index = self._index.setdefault(name, {})
        for value in values:
            index.setdefault(value, []).append(compiled)

    def candidates(self, event_type: str, order: OrderIn | None) -> list[CompiledRule]:
        """The rules an event may meet, in the program's order."""
        return [rule for rule, _ in self.meet(event_type, order)]

    def meet(
        self, event_type: str, order: OrderIn | None
    ) -> list[tuple[CompiledRule, list[int] | None]]:
        """The rules an event may meet, in the program's order, each with the order's lines
        (by index) that the list it is indexed by names; None for a rule not indexed."""
        if event_type != "order.placed" or order is None:
            return [(r, None) for r in self.by_type.get(event_type, [])]
        found: dict[int, tuple[CompiledRule, list[int] | None]] = {
            r.index: (r, None) for r in self._unscoped
        }
        if not self._index:
            return list(found.values())
        empty: dict[str, list[CompiledRule]] = {}
        skus, products, categories, tags = (
            self._index.get(name, empty) for name in ("sku", "product", "category", "tag")
        )
        for i, line in enumerate(order.lines):
            for rules in (
                skus.get(line.sku),
                products.get(line.product_id),
                categories.get(line.category),
                *(tags.get(t) for t in line.tags),
            ):
                if rules:
                    for r in rules:
                        hit = found.get(r.index)
                        if hit is None:
                            found[r.index] = (r, [i])
                        elif hit[1] is not None and hit[1][-1] != i:
                            hit[1].append(i)
        return [found[i] for i in sorted(found)]

    def minimum_minor(self, order: OrderIn | None) -> int | None:
        minimum = self.program.earning.minimum
        if order is None or minimum is None:
            return None
        return to_minor(minimum, order.currency)

    def listens_to(self, event_type: str) -> bool:
        return event_type in self.by_type

    def limited(self, event_type: str) -> list[tuple[str, list[str]]]:
        """The rules of `event_type` with limits, and their periods ("day", "lifetime"...)."""
        return [
            (r.rule.id, [limit.per for limit in r.rule.limits])
            for r in self.by_type.get(event_type, [])
            if r.rule.limits
        ]

    def budgeted(self, event_type: str) -> list[str]:
        return [r.rule.id for r in self.by_type.get(event_type, []) if r.rule.budget is not None]
