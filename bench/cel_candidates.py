"""The CEL libraries on PyPI, measured on what Patron's rules do (decision 0013).

For each installed candidate: one condition over an order of 20 lines, evaluated with a fresh
Python dict each time, and with a context built once per event and reused for every rule (and
what building it costs); a line filter over the 20 lines, one evaluation per line; and whether
a typo or a type error is refused when the expression is compiled.

    python bench/cel_candidates.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

CONDITION = (
    'order.total >= 50.0 && member.orders > 0 && order.lines.exists(l, l.category == "coffee")'
)
LINE_FILTER = 'line.category == "coffee" && "organic" in line.tags'
TYPO, TYPE_ERROR = "order.totl > 1.0", 'order.total >= "x"'
LINES = [
    {
        "sku": f"SKU-{i}",
        "category": "coffee" if i % 2 else "tea",
        "tags": ["organic"],
        "quantity": 2,
        "unit_price": 12.5,
    }
    for i in range(20)
]
CONTEXT: dict[str, Any] = {
    "order": {"total": 250.0, "lines": LINES},
    "member": {"orders": 3},
    "now": datetime(2026, 11, 23, tzinfo=UTC),
}


def per_call(fn: Callable[[], Any], n: int) -> float:
    """Median of 5 runs of n calls, in microseconds per call."""
    fn()
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


def refused(compile_: Callable[[str], Any], source: str) -> str:
    try:
        compile_(source)
    except Exception as exc:  # each library raises its own
        text = str(exc).replace("\n", " ")
        return "refused" + (" (with line:column)" if ":1:" in text or "1:" in text else "")
    return "accepted"


def google() -> dict[str, str]:
    from cel_expr_python import cel
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2
    from google.protobuf.descriptor_pb2 import FieldDescriptorProto as F

    fd = descriptor_pb2.FileDescriptorProto(
        name="bench.proto",
        package="bench",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )
    line = fd.message_type.add(name="Line")
    for i, (name, kind, label) in enumerate(
        [
            ("sku", F.TYPE_STRING, 1),
            ("category", F.TYPE_STRING, 1),
            ("tags", F.TYPE_STRING, 3),
            ("quantity", F.TYPE_INT64, 1),
            ("unit_price", F.TYPE_DOUBLE, 1),
        ],
        1,
    ):
        line.field.add(name=name, number=i, type=kind, label=label)
    order = fd.message_type.add(name="Order")
    order.field.add(name="total", number=1, type=F.TYPE_DOUBLE, label=1)
    order.field.add(name="lines", number=2, type=F.TYPE_MESSAGE, label=3, type_name=".bench.Line")
    member = fd.message_type.add(name="Member")
    member.field.add(name="orders", number=1, type=F.TYPE_INT64, label=1)
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(fd)
    cls = {
        n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"bench.{n}"))
        for n in ("Order", "Member", "Line")
    }
    env = cel.NewEnv(
        descriptor_pool=pool,
        variables={
            "order": cel.Type("bench.Order"),
            "member": cel.Type("bench.Member"),
            "now": cel.Type.TIMESTAMP,
            "line": cel.Type("bench.Line"),
        },
    )

    def build() -> Any:
        return env.Activation(
            {
                "order": cls["Order"](total=250.0, lines=LINES),
                "member": cls["Member"](orders=3),
                "now": CONTEXT["now"],
            }
        )

    condition = env.compile(CONDITION)
    activation = build()
    line_filter = env.compile(LINE_FILTER)
    mapped = env.compile(f"order.lines.map(line, {LINE_FILTER})")
    lines = [cls["Line"](**x) for x in LINES]

    def per_line() -> list[Any]:
        return [line_filter.eval(env.Activation({"line": x})) for x in lines]

    return {
        "fresh context": f"{per_call(lambda: condition.eval(build()), 2000):.1f}",
        "reused context": f"{per_call(lambda: condition.eval(activation), 20000):.1f}",
        "building the context": f"{per_call(build, 2000):.1f}",
        "filter, per line x 20": f"{per_call(per_line, 500):.1f}",
        "filter, one map over 20": f"{per_call(lambda: mapped.eval(activation), 5000):.1f}",
        "typo at compile": refused(env.compile, TYPO),
        "type error at compile": refused(env.compile, TYPE_ERROR),
    }


def rust() -> dict[str, str]:
    import cel

    condition = cel.compile(CONDITION)
    context = cel.Context(CONTEXT)
    line_filter = cel.compile(LINE_FILTER)
    mapped = cel.compile(f"order.lines.map(line, {LINE_FILTER})")

    def per_line() -> list[Any]:
        return [line_filter.execute(cel.Context({"line": x})) for x in LINES]

    return {
        "fresh context": f"{per_call(lambda: condition.execute(CONTEXT), 1000):.1f}",
        "reused context": f"{per_call(lambda: condition.execute(context), 10000):.1f}",
        "building the context": f"{per_call(lambda: cel.Context(CONTEXT), 1000):.1f}",
        "filter, per line x 20": f"{per_call(per_line, 200):.1f}",
        "filter, one map over 20": f"{per_call(lambda: mapped.execute(context), 2000):.1f}",
        "typo at compile": refused(cel.compile, TYPO),
        "type error at compile": refused(cel.compile, TYPE_ERROR),
    }


def pure() -> dict[str, str]:
    import celpy

    env = celpy.Environment()
    condition = env.program(env.compile(CONDITION))
    plain = {k: v for k, v in CONTEXT.items() if k != "now"}
    activation = celpy.json_to_cel(plain)

    def fresh() -> Any:
        return condition.evaluate(celpy.json_to_cel(plain))

    return {
        "fresh context": f"{per_call(fresh, 100):.1f}",
        "reused context": f"{per_call(lambda: condition.evaluate(activation), 100):.1f}",
        "building the context": "",
        "filter, per line x 20": "",
        "filter, one map over 20": "",
        "typo at compile": refused(lambda s: env.program(env.compile(s)), TYPO),
        "type error at compile": refused(lambda s: env.program(env.compile(s)), TYPE_ERROR),
    }


def main() -> None:
    candidates = [
        ("cel-expr-python", "cel_expr_python", google),
        ("common-expression-language", "cel", rust),
        ("cel-python", "celpy", pure),
    ]
    rows = []
    for name, module, run in candidates:
        try:
            __import__(module)
        except ImportError:
            rows.append((name, {"fresh context": "not installed"}))
            continue
        rows.append((name, run()))
    keys = [
        "fresh context",
        "reused context",
        "building the context",
        "filter, per line x 20",
        "filter, one map over 20",
        "typo at compile",
        "type error at compile",
    ]
    print("| library | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, figures in rows:
        print(f"| {name} | " + " | ".join(figures.get(k, "") for k in keys) + " |")
    print("\nTimes in microseconds per evaluation (median of 5 runs).")


if __name__ == "__main__":
    main()
