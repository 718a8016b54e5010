"""Safe YAML reading that remembers where every value came from.

PyYAML composes the document into a node graph (it never constructs arbitrary Python
objects with the safe loader), and we turn that graph into a small tree of :class:`YMap`,
:class:`YSeq` and :class:`YScalar`, each with a :class:`~engine.core.errors.Span`.

Two protections make hostile input harmless:

* a file larger than :data:`MAX_BYTES` is refused before it is parsed;
* aliases are followed while the tree is built, but the number of nodes the tree would
  have (aliases counted every time they are used) is bounded by :data:`MAX_NODES`, and
  nesting by :data:`MAX_DEPTH`: an alias bomb ("billion laughs") is refused long before it
  is expanded.

Duplicate keys in a mapping are errors (PyYAML silently keeps the last one).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from engine.core.errors import PlanError, PlanErrors, Span

MAX_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 64

__all__ = ["MAX_BYTES", "YMap", "YNode", "YScalar", "YSeq", "parse_yaml", "read_yaml"]


@dataclass(frozen=True)
class YScalar:
    """A scalar as written: ``text`` is the source text, ``value`` its YAML value."""

    value: Any
    text: str
    span: Span
    style: str | None = None

    def offset_span(self, start: int, end: int) -> Span:
        """The span of characters ``start:end`` of :attr:`text` in the file."""
        shift = 1 if self.style in ("'", '"') else 0
        if self.style in ("|", ">"):
            # Block scalars: point at the line the expression starts on.
            return self.span
        head = self.text[:start]
        if "\n" in head:
            return self.span
        return self.span.shifted(shift + start, max(end - start, 1))


@dataclass(frozen=True)
class YSeq:
    items: tuple[YNode, ...]
    span: Span


@dataclass(frozen=True)
class YMap:
    """A mapping: ``items`` keeps the order and the key's own span."""

    items: tuple[tuple[str, Span, YNode], ...]
    span: Span

    def get(self, key: str) -> YNode | None:
        for k, _, v in self.items:
            if k == key:
                return v
        return None

    def keys(self) -> list[str]:
        return [k for k, _, _ in self.items]


YNode = YMap | YSeq | YScalar


class _Builder:
    def __init__(self, filename: str, lines: list[str]):
        self.filename = filename
        self.lines = lines
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def span(self, mark: Any, end_mark: Any | None = None) -> Span:
        line = mark.line
        text = self.lines[line] if 0 <= line < len(self.lines) else ""
        length = 1
        if end_mark is not None and end_mark.line == mark.line:
            length = max(end_mark.column - mark.column, 1)
        return Span(self.filename, line + 1, mark.column + 1, length, text)

    def build(self, node: Any, depth: int = 0) -> YNode:
        self.count += 1
        if self.count > MAX_NODES:
            raise PlanErrors([PlanError(
                "yaml-too-large",
                f"the document expands to more than {MAX_NODES:,} values "
                "(aliases are counted each time they are used); refusing to expand it",
                self.span(node.start_mark, node.end_mark),
                hint="remove the anchors/aliases (&name / *name) that repeat large blocks",
            )])
        if depth > MAX_DEPTH:
            raise PlanErrors([PlanError(
                "yaml-too-deep",
                f"the document is nested more than {MAX_DEPTH} levels deep",
                self.span(node.start_mark, node.end_mark),
            )])
        span = self.span(node.start_mark, node.end_mark)
        if isinstance(node, yaml.MappingNode):
            items = []
            seen: dict[Any, Span] = {}
            errors = []
            for knode, vnode in node.value:
                if not isinstance(knode, yaml.ScalarNode):
                    errors.append(PlanError("bad-key", "a mapping key must be a plain name",
                                            self.span(knode.start_mark, knode.end_mark)))
                    continue
                kspan = self.span(knode.start_mark, knode.end_mark)
                key = knode.value
                if key == "<<":
                    errors.append(PlanError("bad-key", "YAML merge keys ('<<') are not supported in plans",
                                            kspan, hint="write the keys out"))
                    continue
                if key in seen:
                    errors.append(PlanError(
                        "duplicate-key", f"key '{key}' appears twice in this mapping", kspan,
                        hint=f"the first '{key}' is on line {seen[key].line}; keep one",
                    ))
                    continue
                seen[key] = kspan
                items.append((str(key), kspan, self.build(vnode, depth + 1)))
            if errors:
                raise PlanErrors(errors)
            return YMap(tuple(items), span)
        if isinstance(node, yaml.SequenceNode):
            return YSeq(tuple(self.build(n, depth + 1) for n in node.value), span)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:  # e.g. a malformed timestamp
            raise PlanErrors([PlanError("yaml-syntax", f"cannot read this value: {exc}", span)]) from None
        if not isinstance(value, (str, int, float, bool, type(None))):
            value = node.value  # dates and the like: keep the text
        return YScalar(value, node.value, span, node.style or None)


def parse_yaml(text: str, filename: str = "<plan>", like: str | None = None) -> YNode:
    """Parse YAML text into a span-carrying tree.

    The tree is an immutable value, kept for the texts parsed last (the studio and
    ``recalibrate`` read the same plan text again for every candidate).

    Args:
        text: the YAML text.
        filename: the name spans carry.
        like: a text ``text`` was made from by replacing scalars with others of the same
            kind (:func:`engine.plan.rewrite.rewrite_plan`). Where libyaml reads ``like``
            exactly as PyYAML's own parser does (every node, value, style and position),
            ``text`` is composed by libyaml, about 20x faster; otherwise, and for every
            other text, by PyYAML's parser, whose messages and positions are the contract.

    Raises:
        PlanErrors: the text is too large, is not valid YAML, holds several documents, is
            empty, or expands beyond the limits.
    """
    fast = like is not None and _libyaml_reads_alike(like)
    return _parse(text, filename, fast)


@lru_cache(maxsize=32)
def _parse(text: str, filename: str, fast: bool) -> YNode:
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise PlanErrors([PlanError(
            "file-too-large",
            f"{filename} is larger than {MAX_BYTES:,} bytes; refusing to read it",
            None,
            hint="a plan is a short, hand-written file: check that this is the right file",
        )])
    if fast:
        try:
            nodes = [n for n in yaml.compose_all(text, Loader=_CLoader) if n is not None]
        except (yaml.YAMLError, RecursionError):
            pass  # PyYAML's parser says what is wrong, as it does for any text
        else:
            if len(nodes) == 1:
                return _Builder(filename, text.splitlines()).build(nodes[0])
    lines = text.splitlines()
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except RecursionError:
        # The YAML parser itself recurses per level of nesting: refuse, where it got too deep.
        raise PlanErrors([PlanError(
            "yaml-too-deep", f"the YAML nests more than {MAX_DEPTH} levels deep; refusing to read it",
            _deep_point(text, filename, lines), hint="a plan nests a few levels: check the brackets")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = None
        if mark is not None:
            line = mark.line
            span = Span(filename, line + 1, mark.column + 1, 1, lines[line] if line < len(lines) else "")
        problem = exc.problem or exc.context or "invalid YAML"
        hint = None
        if "mapping values are not allowed" in problem or "expected ',' or '}'" in problem:
            hint = "quote an expression that contains ': ' or ',' inside {...} (\"...\")"
        if "'\\t'" in problem or (span is not None and "\t" in span.text[: max(span.column, 1)]):
            hint = "indent with spaces, not tabs (YAML does not allow tabs for indentation)"
        raise PlanErrors([PlanError("yaml-syntax", f"invalid YAML: {problem}", span, hint)]) from None
    except yaml.YAMLError as exc:
        raise PlanErrors([PlanError("yaml-syntax", f"invalid YAML: {exc}", None)]) from None
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        raise PlanErrors([PlanError("empty-file", f"{filename} is empty", None)])
    if len(nodes) > 1:
        second = nodes[1]
        raise PlanErrors([PlanError(
            "yaml-syntax", "the file holds more than one YAML document ('---')",
            _Builder(filename, lines).span(second.start_mark),
        )])
    return _Builder(filename, lines).build(nodes[0])


_CLoader: Any = getattr(yaml, "CSafeLoader", None)


def _graph(node: Any, budget: list[int]) -> tuple:
    """A composed node as everything :class:`_Builder` reads of it (the style of a plain
    scalar is None for PyYAML and '' for libyaml: the same), aliases expanded up to
    :data:`MAX_NODES` nodes (:class:`RecursionError` beyond)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise RecursionError("too many nodes")
    marks = (node.start_mark.line, node.start_mark.column, node.end_mark.line, node.end_mark.column)
    if isinstance(node, yaml.MappingNode):
        return ("map", node.tag, marks, tuple((_graph(k, budget), _graph(v, budget)) for k, v in node.value))
    if isinstance(node, yaml.SequenceNode):
        return ("seq", node.tag, marks, tuple(_graph(v, budget) for v in node.value))
    return ("scalar", node.tag, marks, node.value, node.style or None)


@lru_cache(maxsize=32)
def _libyaml_reads_alike(text: str) -> bool:
    """Whether libyaml composes ``text`` into exactly the graph PyYAML's parser does (they
    differ on a few inputs: tabs, a byte-order mark inside the text, some flow keys)."""
    if _CLoader is None:
        return False
    try:
        ours = [_graph(n, [MAX_NODES]) for n in yaml.compose_all(text, Loader=yaml.SafeLoader) if n is not None]
        theirs = [_graph(n, [MAX_NODES]) for n in yaml.compose_all(text, Loader=_CLoader) if n is not None]
    except (yaml.YAMLError, RecursionError):
        return False
    return ours == theirs


def _deep_point(text: str, filename: str, lines: list[str]) -> Span | None:
    """Where brackets first open more than :data:`MAX_DEPTH` deep (None if not brackets)."""
    depth, line, column = 0, 0, 0
    for ch in text:
        if ch == "\n":
            line, column = line + 1, 0
            continue
        column += 1
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return Span(filename, line + 1, column, 1, lines[line] if line < len(lines) else "")
        elif ch in "]}":
            depth -= 1
    return None


def read_yaml(path: str | Path) -> YNode:
    """Read and parse a YAML file, refusing oversized files before reading them whole."""
    p = Path(path)
    name = str(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise PlanErrors([PlanError("unreadable-file", f"cannot read {name}: {exc.strerror}", None)]) from None
    if size > MAX_BYTES:
        raise PlanErrors([PlanError(
            "file-too-large",
            f"{name} is {size:,} bytes, more than the {MAX_BYTES:,} a plan may have; refusing to read it",
            None,
            hint="a plan is a short, hand-written file: check that this is the right file",
        )])
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PlanErrors([PlanError("unreadable-file", f"{name} is not UTF-8 text ({exc.reason})", None)]) from None
    except OSError as exc:
        raise PlanErrors([PlanError("unreadable-file", f"cannot read {name}: {exc.strerror}", None)]) from None
    return parse_yaml(text, name)
