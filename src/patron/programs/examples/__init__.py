"""Ready-made programs (also in docs/programs/): `patron program load` takes any of them."""

from importlib import resources
from typing import Any

import yaml

from patron.programs.schemas import ProgramDocument

NAMES = ("coffee", "fashion", "engagement")


def example_text(name: str) -> str:
    return (resources.files(__name__) / f"{name}.yaml").read_text(encoding="utf-8")


def example_document(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(example_text(name))
    return document


def example_program(name: str) -> ProgramDocument:
    return ProgramDocument.model_validate(example_document(name))
