"""Editing YAML text in place: the changed values are new, every other character stays.

Plans and scenarios are hand-written, reviewed files, so a program that changes a few of their
values must give back the same text with only those values changed: comments, layout, quoting
and key order stay byte for byte. Two writers do that, through this one editor:

* :mod:`engine.plan.rewrite` changes numbers of a plan, located by the spans (line and
  column) of the plan's own YAML tree (:func:`line_offsets` turns them into offsets);
* :mod:`engine.sim.calibrated_scenario` sets the fitted keys of a scenario, located by
  PyYAML's composed nodes (:class:`YamlEditor`).

An edit replaces ``text[start:end]``; edits are collected, then applied at once
(:meth:`TextEdits.apply`), so that every offset refers to the original text. Edits must not
overlap; insertions at one place keep the order they were made in.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import yaml

__all__ = ["EditOverlap", "TextEdits", "YamlEditor", "line_offsets"]


class EditOverlap(ValueError):
    """Two edits touch the same characters.

    Attributes:
        first, second: the ``what`` of the two edits, in the order of the text.
    """

    def __init__(self, first: object, second: object):
        super().__init__("two edits touch the same characters")
        self.first = first
        self.second = second


class TextEdits:
    """Replacements of ranges of one text, applied together.

    Args:
        text: the original text (offsets of every edit refer to it).
    """

    def __init__(self, text: str):
        self.text = text
        self.edits: list[tuple[int, int, int, str, object]] = []

    def edit(self, start: int, end: int, new: str, what: object = None) -> None:
        """Replace ``text[start:end]`` by ``new``; insertions at one place keep the order they
        were made. ``what`` names the edit in an :class:`EditOverlap`."""
        self.edits.append((start, end, len(self.edits), new, what))

    def apply(self) -> str:
        """The text with every edit made.

        Raises:
            EditOverlap: two edits touch the same characters.
        """
        ordered = sorted(self.edits, key=lambda e: e[:3])
        for (_, end, _, _, first), (start, _, _, _, second) in itertools.pairwise(ordered):
            if start < end:
                raise EditOverlap(first, second)
        out, pos = [], 0
        for start, end, _, new, _ in ordered:
            out.append(self.text[pos:start])
            out.append(new)
            pos = end
        out.append(self.text[pos:])
        return "".join(out)


def line_offsets(text: str) -> list[int]:
    """Character offset at which each line starts, with PyYAML's line breaks.

    PyYAML counts ``\\n``, ``\\r\\n`` (once), a lone ``\\r``, ``\\x85``, ``\\u2028`` and
    ``\\u2029`` as line breaks; its marks' line numbers follow that rule, so offsets must too.
    """
    starts = [0]
    n = len(text)
    for i, ch in enumerate(text):
        if ch in "\n\x85\u2028\u2029" or (ch == "\r" and (i + 1 >= n or text[i + 1] != "\n")):
            starts.append(i + 1)
    return starts


class YamlEditor(TextEdits):
    """Edits of a YAML file located with PyYAML's node marks (comments survive).

    Args:
        text: the YAML text (a final newline is added when it has none).

    Attributes:
        root: the composed document (``yaml.compose``).
        body: where the opening comment block ends.
    """

    def __init__(self, text: str):
        super().__init__(text if text.endswith("\n") else text + "\n")
        self.root = yaml.compose(self.text, Loader=yaml.SafeLoader)
        self.body = 0
        while self.body < len(self.text):
            line = self.text[self.body:self.line_end(self.body)].strip()
            if line and not line.startswith("#"):
                break
            self.body = self.line_end(self.body)

    # -- locating ---------------------------------------------------------------------

    @staticmethod
    def item(mapping: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
        """The ``(key node, value node)`` of ``key`` in a mapping node (None: not a mapping,
        or no such key)."""
        if not isinstance(mapping, yaml.MappingNode):
            return None
        for k, v in mapping.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
        return None

    def end(self, node: yaml.Node) -> int:
        """Where a node's text ends (a block collection's last value, not the comments after)."""
        if isinstance(node, yaml.ScalarNode):
            return node.end_mark.index
        assert isinstance(node, yaml.CollectionNode)  # a composed node is a scalar, a sequence or a mapping
        if node.flow_style or not node.value:
            return node.end_mark.index
        last = node.value[-1]
        return self.end(last[1] if isinstance(node, yaml.MappingNode) else last)

    def line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def line_end(self, index: int) -> int:
        """Index just past the newline ending the line holding ``index``."""
        return self.text.index("\n", index) + 1

    # -- editing ----------------------------------------------------------------------

    def replace(self, node: yaml.Node, new: str, comment: str | None = None) -> None:
        """Replace a value; ``comment`` replaces the comment after it on its line."""
        start, end = node.start_mark.index, self.end(node)
        rest_end = self.line_end(end) - 1
        rest = self.text[end:rest_end]
        if comment is None or (rest.strip() and not rest.strip().startswith("#")):
            self.edit(start, end, new)
            return
        line = self.text[self.line_start(start):start] + new
        column = len(self.text[self.line_start(end):end]) + rest.find("#") if "#" in rest else 0
        pad = max(column - len(line), 2) if "#" in rest else 2
        self.edit(start, rest_end, new + " " * pad + "# " + comment)

    def comments_above(self, key: yaml.Node, lines: Sequence[str]) -> None:
        """Replace the comment lines right above a key (same indentation) with ``lines``."""
        first = self.line_start(key.start_mark.index)
        indent = self.text[first:key.start_mark.index]
        start = first
        while start > self.body:  # the opening comment is the header's
            prev = self.line_start(start - 1)
            if not self.text[prev:start].strip().startswith("#") or \
                    not self.text[prev:start].startswith(indent + "#"):
                break
            start = prev
        self.edit(start, first, "".join(f"{indent}# {t}\n" for t in lines))

    def set_key(self, mapping: yaml.MappingNode, key: str, value: str,
                comment: str | None = None) -> None:
        """Set ``key`` in a block mapping: replace its value, or add a line after the last key."""
        found = self.item(mapping, key)
        if found is not None:
            self.replace(found[1], value, comment)
            return
        indent = " " * mapping.value[0][0].start_mark.column
        at = self.line_end(self.end(mapping))
        line = f"{indent}{key}: {value}"
        if comment:
            line += " " * max(self.comment_column(mapping) - len(line), 2) + "# " + comment
        self.edit(at, at, line + "\n")

    def comment_column(self, mapping: yaml.MappingNode) -> int:
        """The column most comments after the values of a block mapping start at (0: none)."""
        columns = []
        for _, v in mapping.value:
            end = self.end(v)
            rest = self.text[end:self.line_end(end)]
            if rest.strip().startswith("#"):
                columns.append(end - self.line_start(end) + rest.index("#"))
        return max(set(columns), key=columns.count) if columns else 0

    def remove_key(self, mapping: yaml.MappingNode, key: str) -> None:
        """Remove a one-line ``key: value`` from a block mapping (with its comment)."""
        found = self.item(mapping, key)
        if found is None:
            return
        k, v = found
        start = self.line_start(k.start_mark.index)
        end = self.line_end(self.end(v))
        self.edit(start, end, "")

    def replace_flow(self, mapping: yaml.MappingNode, values: dict[str, str],
                     drop: Sequence[str]) -> None:
        """Rewrite a flow mapping ``{...}`` with keys set and dropped."""
        items = {k.value: self.text[v.start_mark.index:self.end(v)] for k, v in mapping.value
                 if k.value not in drop}
        items.update(values)
        self.edit(mapping.start_mark.index, mapping.end_mark.index,
                  "{" + ", ".join(f"{k}: {v}" for k, v in items.items()) + "}")

    def append(self, block: str) -> None:
        """Add ``block`` at the end of the file, after an empty line."""
        at = len(self.text)
        self.edit(at, at, "\n" + block)
