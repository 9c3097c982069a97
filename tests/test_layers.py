"""The import layering of src/patron, read from the source with `ast` (nothing is imported).

(a) The ledger imports no other domain: a module of patron.ledger imports only the ledger, the
    database, the kit, the errors and the config. patron.ledger.api, the HTTP layer that
    resolves members, is the exception.
(b) Nothing imports upward. The layers, lowest first, are LAYERS below; a module that is not
    an HTTP module (`api.py`) nor a top-level one (TOP) imports only modules of its own layer
    or lower. HTTP and top-level modules may import anything, and count as the top layer when
    imported.

Every import counts, including those inside functions and under `if TYPE_CHECKING:`: a
type-only import still ties the packages together.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import patron

SRC = Path(patron.__file__).parent

# Lowest first. "" is the root package `patron` itself (only its version).
LAYERS: list[frozenset[str]] = [
    frozenset({"", "kit", "errors", "config", "db"}),
    # Logs, metrics and health checks: any domain may report to them.
    frozenset({"ops"}),
    frozenset({"ledger"}),
    # Programs hold their rules; rules are pure logic over the program's terms.
    frozenset({"auth", "programs", "rules"}),
    frozenset({"events"}),
    frozenset({"ingest"}),
    frozenset({"members"}),
    frozenset({"orders", "engagement"}),
    frozenset({"redemptions"}),
]
TOP = frozenset({"api", "app", "handlers", "checks", "cli", "models", "openapi"})
# Entry points below the top that must see every domain: Alembic's environment compares the
# migrated schema with every model.
ENTRY_POINTS = ("patron.db.migrations",)
TOP_LAYER = len(LAYERS)
LEDGER_MAY_IMPORT = ("patron.ledger", "patron.db", "patron.kit", "patron.errors", "patron.config")


@dataclass(frozen=True, order=True)
class Violation:
    rule: str
    module: str
    imported: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.module} imports {self.imported}"


@dataclass(frozen=True)
class Module:
    name: str
    source: str
    is_package: bool


def read_modules(root: Path = SRC) -> dict[str, Module]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        name = ".".join(parts)
        found[name] = Module(name, path.read_text(encoding="utf-8"), is_package)
    return found


def imports_of(module: Module, known: set[str]) -> set[str]:
    """The patron modules `module` imports, resolved to absolute names: `from a import b`
    names the module a.b when there is one, else a."""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(module.source, filename=module.name)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            for alias in node.names:
                full = f"{origin}.{alias.name}"
                out.add(full if full in known else origin)
    return {m for m in out if m == "patron" or m.startswith("patron.")}


def area(name: str) -> str:
    """The top-level package or module under patron: patron.ledger.engine -> ledger."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def is_http(name: str) -> bool:
    return name.rpartition(".")[2] == "api"


def layer(name: str) -> int | None:
    if is_http(name) or area(name) in TOP or name.startswith(ENTRY_POINTS):
        return TOP_LAYER
    for rank, members in enumerate(LAYERS):
        if area(name) in members:
            return rank
    return None


def check(modules: dict[str, Module]) -> list[Violation]:
    known = set(modules)
    found: list[Violation] = []
    for name, module in modules.items():
        rank = layer(name)
        if rank is None:
            found.append(Violation("unclassified (declare its layer)", name, ""))
            continue
        for imported in sorted(imports_of(module, known)):
            if (
                area(name) == "ledger"
                and name != "patron.ledger.api"
                and not any(
                    imported == p or imported.startswith(p + ".") for p in LEDGER_MAY_IMPORT
                )
            ):
                found.append(Violation("ledger imports another domain", name, imported))
            target = layer(imported)
            if rank < TOP_LAYER and (target is None or target > rank):
                found.append(Violation("upward import", name, imported))
    return sorted(found)


def report(violations: list[Violation]) -> str:
    return "\n".join(str(v) for v in violations)


class TestTheLayering:
    def test_no_module_breaks_the_layering(self) -> None:
        found = check(read_modules())
        assert found == [], report(found)

    def test_every_module_of_src_was_read(self) -> None:
        names = set(read_modules())
        assert {"patron", "patron.ledger.engine", "patron.ingest.pipeline", "patron.api"} <= names
        assert len(names) > 60


def synthetic(**sources: str) -> dict[str, Module]:
    """Modules from source text: `patron__ledger__x="..."` is patron.ledger.x."""
    return {
        (name := key.replace("__", ".")): Module(name, src, is_package=False)
        for key, src in sources.items()
    }


class TestTheChecker:
    def test_an_upward_import_is_reported(self) -> None:
        found = check(synthetic(patron__events__schemas="from patron.orders.schemas import X\n"))
        assert found == [
            Violation("upward import", "patron.events.schemas", "patron.orders.schemas")
        ]

    def test_an_import_of_an_http_module_from_a_domain_module_is_upward(self) -> None:
        found = check(synthetic(patron__members__service="import patron.members.api\n"))
        assert found == [Violation("upward import", "patron.members.service", "patron.members.api")]

    def test_a_ledger_module_importing_a_domain_breaks_both_rules_even_inside_a_function(
        self,
    ) -> None:
        # The kit is allowed; the programs domain is neither allowed nor below the ledger.
        source = (
            "from patron.kit.ids import uuid7\n"
            "def f():\n"
            "    from patron.programs.schemas import Program\n"
        )
        found = check(synthetic(patron__ledger__engine=source))
        assert found == [
            Violation(
                "ledger imports another domain", "patron.ledger.engine", "patron.programs.schemas"
            ),
            Violation("upward import", "patron.ledger.engine", "patron.programs.schemas"),
        ]

    def test_http_and_top_level_modules_may_import_anything(self) -> None:
        found = check(
            synthetic(
                patron__ledger__api="from patron.members.service import members\n",
                patron__events__api="from patron.redemptions import service\n",
                patron__checks="from patron.orders.verify import CHECKS\n",
            )
        )
        assert found == []

    def test_relative_imports_are_resolved(self) -> None:
        found = check(synthetic(patron__auth__service="from ..members import models\n"))
        assert found == [Violation("upward import", "patron.auth.service", "patron.members")]

    def test_type_checking_imports_count(self) -> None:
        source = (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from patron.ingest.batch import Batch\n"
        )
        found = check(synthetic(patron__events__service=source))
        assert found == [Violation("upward import", "patron.events.service", "patron.ingest.batch")]

    def test_a_package_nobody_declared_is_reported(self) -> None:
        found = check(synthetic(patron__tiers__engine="import patron.kit.ids\n"))
        assert [v.rule for v in found] == ["unclassified (declare its layer)"]
