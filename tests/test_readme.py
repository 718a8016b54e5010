"""The README's Python snippets use only names they define (or import): a reader can paste
each one into a fresh session as it stands."""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def _bound(node: ast.AST, *, comprehensions: bool) -> set[str]:
    """Names a statement binds (imports, assignments), or only its comprehension variables."""
    names = set()
    for sub in ast.walk(node):
        if comprehensions:
            if isinstance(sub, ast.comprehension):
                names |= {t.id for t in ast.walk(sub.target) if isinstance(t, ast.Name)}
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in sub.names}
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.add(sub.id)
    return names


def _undefined(code: str) -> list[str]:
    """Names read before any statement of the snippet binds them."""
    defined = set(dir(builtins))
    missing = []
    for node in ast.parse(code).body:  # in order: a name must be bound before it is read
        local = defined | _bound(node, comprehensions=True)
        missing += [sub.id for sub in ast.walk(node)
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id not in local]
        defined |= _bound(node, comprehensions=False)
    return missing


def test_the_readme_has_python_snippets():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_snippet_defines_every_name_it_uses(code):
    assert _undefined(code) == []
