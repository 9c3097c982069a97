"""`patron program load` and `patron program show`: the ready-made programs load with one
command, a bad file changes nothing and says where it is wrong, and what `show` prints loads
back."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from patron.programs.examples import NAMES
from tests.cli.helpers import one_line, patron, unique_name

DOCS = Path(__file__).resolve().parents[2] / "docs" / "programs"


@pytest.fixture
def tenant(database_url: str) -> str:
    name = unique_name()
    assert patron(database_url, "tenants", "create", name).exit_code == 0
    return name


@pytest.mark.parametrize("name", NAMES)
def test_each_ready_made_program_loads_with_one_command(
    database_url: str, tenant: str, name: str
) -> None:
    result = patron(database_url, "program", "load", str(DOCS / f"{name}.yaml"), "--tenant", tenant)
    assert result.exit_code == 0, result.output
    assert "as version 1 of" in result.output
    shown = patron(database_url, "program", "show", "--tenant", tenant)
    assert shown.exit_code == 0, shown.output
    document = yaml.safe_load(shown.output)
    assert document["version"] == 1
    given = yaml.safe_load((DOCS / f"{name}.yaml").read_text())
    assert [r["id"] for r in document["rules"]] == [r["id"] for r in given["rules"]]


def test_what_show_prints_loads_back_and_a_draft_stays_a_draft(
    database_url: str, tenant: str, tmp_path: Path
) -> None:
    assert (
        patron(
            database_url, "program", "load", str(DOCS / "coffee.yaml"), "--tenant", tenant
        ).exit_code
        == 0
    )
    shown = patron(database_url, "program", "show", "--tenant", tenant, "--format", "json")
    path = tmp_path / "program.json"
    path.write_text(shown.output)
    result = patron(database_url, "program", "load", str(path), "--tenant", tenant, "--draft")
    assert result.exit_code == 0, result.output
    assert "draft" in result.output
    draft = patron(database_url, "program", "show", "--tenant", tenant, "--draft")
    assert yaml.safe_load(draft.output)["based_on"] == 1
    # The published program is still version 1.
    assert (
        yaml.safe_load(patron(database_url, "program", "show", "--tenant", tenant).output)[
            "version"
        ]
        == 1
    )


def test_a_bad_file_changes_nothing_and_names_the_rule(
    database_url: str, tenant: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "currency: USD\nrules:\n  - id: x\n    name: X\n    points: 5\n    when: order.total > 1\n"
    )
    result = patron(database_url, "program", "load", str(bad), "--tenant", tenant)
    assert result.exit_code == 2
    line = one_line(result.output)
    assert "rules.0.when" in line and "1:13" in line
    broken = tmp_path / "broken.yaml"
    broken.write_text("currency: USD\nrules: [\n")
    result = patron(database_url, "program", "load", str(broken), "--tenant", tenant)
    assert result.exit_code == 2 and "line" in one_line(result.output)
    shown = patron(database_url, "program", "show", "--tenant", tenant)
    assert shown.exit_code == 2 and "no published program" in one_line(shown.output)
