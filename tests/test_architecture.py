"""The engine stays plain Python, and dependencies point one way: ner <- projects <- labeling <- evaluation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["ner", "projects", "labeling", "evaluation", "serving", "portability"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _python_files(package: str) -> list[Path]:
    return [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]


def test_ner_never_imports_django_or_the_apps():
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & {"django", "rest_framework", "celery", *LAYERS[1:]})
        for path in _python_files("ner")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


@pytest.mark.parametrize("layer", LAYERS[1:])
def test_apps_import_only_layers_below_them(layer):
    if not (ROOT / layer).exists():
        pytest.skip(f"{layer} does not exist yet")
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    offenders = {str(path.relative_to(ROOT)): sorted(_imports(path) & above) for path in _python_files(layer)}
    assert {path: names for path, names in offenders.items() if names} == {}
