"""The expression language: tokens, a small Pratt parser, and the syntax tree.

The grammar is closed: the parser only ever builds the node types defined here, so there
is nothing for user text to reach but these nodes (no ``eval``, no Python AST). Each node
remembers the character range it came from, which :func:`parse_expression` turns into a
file span through a ``locate`` callback.

Grammar, loosest binding first::

    expr    := or
    or      := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | compare
    compare := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum | 'not'? 'in' list)?
    list    := '[' literal (',' literal)* ']'        literal := NUMBER | STRING | '-' NUMBER
    sum     := term (('+' | '-') term)*
    term    := unary (('*' | '/') unary)*
    unary   := ('-' | '+') unary | atom
    atom    := NUMBER | STRING | NAME ('.' NAME)? | NAME '(' args? ')' | '(' expr ')'

``NUMBER`` allows ``_`` between digits, a decimal part, an exponent and a trailing ``%``
(``80%`` is 0.8). ``NAME`` follows Python's identifier rules, so any script works.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from engine.core.errors import PlanError, Span
from engine.plan.functions import FUNCTIONS

__all__ = [
    "KEYWORDS",
    "MAX_DEPTH",
    "MAX_NESTING",
    "Binary",
    "BoolOp",
    "Call",
    "Compare",
    "Expr",
    "In",
    "Name",
    "Not",
    "Num",
    "Str",
    "Unary",
    "parse_expression",
    "walk",
]

KEYWORDS = frozenset({"and", "or", "not", "in"})

#: Most parentheses, function calls and prefix operators (``-``, ``not``) open at once.
MAX_NESTING = 50
#: Deepest syntax tree: nesting plus chained operators (``a + b + c`` is 2 deep, since each
#: ``+`` applies to the sum before it). A 1,000-term sum is refused: name its parts as
#: measures, or use ``group_sum``.
MAX_DEPTH = 200


@dataclass(frozen=True)
class Node:
    start: int
    end: int


@dataclass(frozen=True)
class Num(Node):
    value: float


@dataclass(frozen=True)
class Str(Node):
    value: str


@dataclass(frozen=True)
class Name(Node):
    """``name`` or ``prefix.name`` (``roster.quota``, ``targets.revenue``, ``kpi.score``)."""

    prefix: str | None
    name: str
    name_start: int


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Expr


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # 'and' | 'or'
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not(Node):
    operand: Expr


@dataclass(frozen=True)
class Call(Node):
    func: str
    func_end: int
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class In(Node):
    """``x in [a, b, ...]`` (``negate``: ``x not in [...]``): the items are literals."""

    negate: bool
    left: Expr
    items: tuple[Num | Str, ...]


Expr = Num | Str | Name | Unary | Binary | Compare | BoolOp | Not | Call | In


def children(node: Expr) -> tuple[Expr, ...]:
    """The operands of a node, left to right."""
    if isinstance(node, (Unary, Not)):
        return (node.operand,)
    if isinstance(node, (Binary, Compare, BoolOp)):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, In):
        return (node.left, *node.items)
    return ()


def walk(node: Expr):
    """Yield ``node`` and every node below it, parents first, left to right (no recursion)."""
    stack = [node]
    while stack:
        top = stack.pop()
        yield top
        stack.extend(reversed(children(top)))


# --------------------------------------------------------------------------- tokens

_NUMBER = re.compile(r"(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d+)?%?")
_NAME = re.compile(r"[^\W\d]\w*")
_OPS = ("<=", ">=", "==", "!=", "<", ">", "+", "-", "*", "/", "(", ")", ",", ".")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class _Tok:
    kind: str  # 'num' 'str' 'name' 'op' 'kw' 'end'
    text: str
    start: int
    end: int
    value: object = None


def _power(op: str) -> tuple[str, str | None]:
    """What to say about a power operator: there is none, but maybe a function."""
    if "pow" in FUNCTIONS:
        return f"'{op}' is not an operator here; use pow(x, y)", None
    return (f"'{op}' is not an operator here: exponentiation is not supported",
            "write x * x, or use a curve for powers")


_PYTHONISMS = {
    "**": _power("**"),
    "//": ("'//' is not part of the expression language", "use '/' (there is no integer division)"),
    "%": ("'%' only marks a percentage after a number (80%)", "use safe_div or '/' for ratios"),
    "&&": ("'&&' is not part of the expression language", "write 'and'"),
    "||": ("'||' is not part of the expression language", "write 'or'"),
    "=": ("'=' is not a comparison", "write '==' to compare"),
    "!": ("'!' is not part of the expression language", "write 'not'"),
    "[": ("indexing with '[' is not part of the expression language", None),
    "]": ("']' is not part of the expression language", None),
    "{": ("'{' is not part of the expression language", None),
    "}": ("'}' is not part of the expression language", None),
    "^": _power("^"),
    "@": ("'@' is not part of the expression language", None),
    ":": ("':' is not part of the expression language", None),
    ";": ("';' is not part of the expression language", None),
    "`": ("'`' is not part of the expression language", None),
    "$": ("'$' is not part of the expression language", None),
    "#": ("'#' is not part of the expression language", None),
    "&": ("'&' is not part of the expression language", "write 'and'"),
    "|": ("'|' is not part of the expression language", "write 'or'"),
    "~": ("'~' is not part of the expression language", "write 'not'"),
}


class _Lexer:
    def __init__(self, text: str, err: Callable[[str, str, int, int, str | None], PlanError]):
        self.text = text
        self.err = err

    def tokens(self) -> list[_Tok]:
        text, i, out = self.text, 0, []
        n = len(text)
        in_list = False  # inside the [...] of `x in [...]`: '[', ']' and ',' are tokens there
        while i < n:
            m = _SPACE.match(text, i)
            if m:
                i = m.end()
                continue
            ch = text[i]
            if ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
                m = _NUMBER.match(text, i)
                assert m is not None
                raw = m.group(0)
                after = m.end()
                if after < n and (text[after].isalnum() or text[after] == "_"):
                    j = after
                    while j < n and (text[j].isalnum() or text[j] in "_."):
                        j += 1
                    raise self.err("bad-number", f"'{text[i:j]}' is not a number", i, j,
                                   "numbers look like 12, 0.8, 80%, 1_000_000 or 1.5e6")
                pct = raw.endswith("%")
                digits = raw[:-1] if pct else raw
                try:
                    value = float(digits.replace("_", ""))
                except ValueError:
                    raise self.err("bad-number", f"'{raw}' is not a number", i, after, None) from None
                if pct:
                    value = value / 100.0
                out.append(_Tok("num", raw, i, after, value))
                i = after
                continue
            if ch in "'\"":
                j = text.find(ch, i + 1)
                if j < 0:
                    raise self.err("unterminated-string", "this string is not closed", i, n,
                                   f"add the closing {ch}")
                out.append(_Tok("str", text[i:j + 1], i, j + 1, text[i + 1:j]))
                i = j + 1
                continue
            m = _NAME.match(text, i)
            if m:
                word = m.group(0)
                if word.startswith("__"):
                    # Python's special names (__import__, __class__): never a plan name, and
                    # no "did you mean" either, since nothing is meant but Python.
                    raise self.err("not-in-language", f"'{word}' is not a name in the plan language",
                                   i, m.end(), "plan names never start with '__'; expressions cannot "
                                   "reach Python")
                out.append(_Tok("kw" if word in KEYWORDS else "name", word, i, m.end()))
                i = m.end()
                continue
            if ch == "[" and not in_list and out and out[-1].kind == "kw" and out[-1].text == "in":
                in_list = True
                out.append(_Tok("op", "[", i, i + 1))
                i += 1
                continue
            if ch == "]" and in_list:
                in_list = False
                out.append(_Tok("op", "]", i, i + 1))
                i += 1
                continue
            two = text[i:i + 2]
            if two in _PYTHONISMS:
                msg, hint = _PYTHONISMS[two]
                raise self.err("not-in-language", msg, i, i + 2, hint)
            for op in _OPS:
                if text.startswith(op, i):
                    out.append(_Tok("op", op, i, i + len(op)))
                    i += len(op)
                    break
            else:
                if ch in _PYTHONISMS:
                    msg, hint = _PYTHONISMS[ch]
                    raise self.err("not-in-language", msg, i, i + 1, hint)
                raise self.err("not-in-language", f"unexpected character {ch!r}", i, i + 1, None)
        out.append(_Tok("end", "", n, n))
        return out


# --------------------------------------------------------------------------- parser

_COMPARE = ("<", "<=", ">", ">=", "==", "!=")


class _Parser:
    def __init__(self, text: str, err):
        self.text = text
        self.err = err
        self.toks = _Lexer(text, err).tokens()
        self.i = 0
        self.nesting = 0  # parentheses, calls and prefix operators open now
        self.depths: dict[int, int] = {}  # id(node) -> depth of its tree (leaves: absent, 1)

    def opening(self, t: _Tok) -> None:
        """Enter a nested construct at token ``t``; refuse it past :data:`MAX_NESTING`."""
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.err("too-deep", f"expression nested too deeply (more than {MAX_NESTING} levels of "
                           "parentheses, calls and prefix operators)", t.start, t.end,
                           "split it: give inner parts names under 'measures' and use those")

    def node(self, made: Expr, at: _Tok, *parts: Expr) -> Expr:
        """Record the depth of a new node; refuse a tree deeper than :data:`MAX_DEPTH`."""
        depth = 1 + max((self.depths.get(id(p), 1) for p in parts), default=0)
        if depth > MAX_DEPTH:
            raise self.err("too-deep", f"expression too deep (more than {MAX_DEPTH} operators applied one "
                           "on another)", at.start, at.end,
                           "split it: give parts of a long sum or chain names under 'measures' and add those")
        self.depths[id(made)] = depth
        return made

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def advance(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def unexpected(self, t: _Tok, expected: str) -> PlanError:
        if t.kind == "end":
            return self.err("syntax", f"the expression ends too early: {expected}", max(t.start - 1, 0),
                            max(t.start, 1), None)
        return self.err("syntax", f"unexpected {_describe(t)}: {expected}", t.start, t.end, None)

    def parse(self) -> Expr:
        if self.tok.kind == "end":
            raise self.err("syntax", "the expression is empty", 0, 1, None)
        node = self.or_()
        t = self.tok
        if t.kind != "end":
            hint = None
            if t.kind == "name" and t.text in ("if", "else", "lambda", "for", "is", "import"):
                hint = "use where(condition, a, b)" if t.text in ("if", "else") else None
                raise self.err("not-in-language", f"'{t.text}' is not part of the expression language",
                               t.start, t.end, hint)
            raise self.unexpected(t, "expected an operator or the end of the expression")
        return node

    def or_(self) -> Expr:
        left = self.and_()
        while self.tok.kind == "kw" and self.tok.text == "or":
            t = self.advance()
            right = self.and_()
            left = self.node(BoolOp(left.start, right.end, "or", left, right), t, left, right)
        return left

    def and_(self) -> Expr:
        left = self.not_()
        while self.tok.kind == "kw" and self.tok.text == "and":
            t = self.advance()
            right = self.not_()
            left = self.node(BoolOp(left.start, right.end, "and", left, right), t, left, right)
        return left

    def not_(self) -> Expr:
        if self.tok.kind == "kw" and self.tok.text == "not":
            t = self.advance()
            self.opening(t)
            operand = self.not_()
            self.nesting -= 1
            return self.node(Not(t.start, operand.end, operand), t, operand)
        return self.compare()

    def compare(self) -> Expr:
        left = self.sum_()
        t = self.tok
        if t.kind == "op" and t.text in _COMPARE:
            self.advance()
            right = self.sum_()
            nxt = self.tok
            if nxt.kind == "op" and nxt.text in _COMPARE:
                raise self.err("syntax", "comparisons cannot be chained", nxt.start, nxt.end,
                               "write 'a < b and b < c'")
            return self.node(Compare(left.start, right.end, t.text, left, right), t, left, right)
        negate = False
        if t.kind == "kw" and t.text == "not" and self.toks[self.i + 1].kind == "kw" and self.toks[self.i + 1].text == "in":
            self.advance()
            negate = True
            t = self.tok
        if t.kind == "kw" and t.text == "in":
            self.advance()
            return self.in_list(left, t, negate)
        return left

    def in_list(self, left: Expr, t: _Tok, negate: bool) -> Expr:
        """The ``[literal, ...]`` after ``in``."""
        open_ = self.tok
        if not (open_.kind == "op" and open_.text == "["):
            raise self.unexpected(open_, "expected a list after 'in', like ['A', 'B']")
        self.advance()
        items: list[Num | Str] = []
        while True:
            lit = self.tok
            if lit.kind == "op" and lit.text == "-" and self.toks[self.i + 1].kind == "num":
                self.advance()
                num = self.advance()
                items.append(Num(lit.start, num.end, -float(num.value)))  # type: ignore[arg-type]
            elif lit.kind == "num":
                self.advance()
                items.append(Num(lit.start, lit.end, float(lit.value)))  # type: ignore[arg-type]
            elif lit.kind == "str":
                self.advance()
                items.append(Str(lit.start, lit.end, str(lit.value)))
            else:
                raise self.unexpected(lit, "the list after 'in' holds texts or numbers, like ['A', 'B']")
            sep = self.tok
            if sep.kind == "op" and sep.text == ",":
                self.advance()
                continue
            if sep.kind == "op" and sep.text == "]":
                self.advance()
                break
            raise self.unexpected(sep, "expected ',' or ']' in the list after 'in'")
        return self.node(In(left.start, sep.end, negate, left, tuple(items)), t, left)

    def sum_(self) -> Expr:
        left = self.term()
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            t = self.advance()
            right = self.term()
            left = self.node(Binary(left.start, right.end, t.text, left, right), t, left, right)
        return left

    def term(self) -> Expr:
        left = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "/"):
            t = self.advance()
            right = self.unary()
            left = self.node(Binary(left.start, right.end, t.text, left, right), t, left, right)
        return left

    def unary(self) -> Expr:
        t = self.tok
        if t.kind == "op" and t.text in ("-", "+"):
            self.advance()
            self.opening(t)
            operand = self.unary()
            self.nesting -= 1
            if t.text == "+":
                return operand
            if isinstance(operand, Num):
                return Num(t.start, operand.end, -operand.value)
            return self.node(Unary(t.start, operand.end, "-", operand), t, operand)
        return self.atom()

    def atom(self) -> Expr:
        t = self.tok
        if t.kind == "num":
            self.advance()
            return Num(t.start, t.end, float(t.value))  # type: ignore[arg-type]
        if t.kind == "str":
            self.advance()
            return Str(t.start, t.end, str(t.value))
        if t.kind == "op" and t.text == "(":
            self.advance()
            self.opening(t)
            inner = self.or_()
            self.nesting -= 1
            close = self.tok
            if not (close.kind == "op" and close.text == ")"):
                raise self.unexpected(close, "expected ')' to close the '(' at "
                                      f"character {t.start + 1}")
            self.advance()
            widened = _with_range(inner, t.start, close.end)
            if id(inner) in self.depths:
                self.depths[id(widened)] = self.depths[id(inner)]
            return widened
        if t.kind == "name":
            self.advance()
            nxt = self.tok
            if nxt.kind == "op" and nxt.text == "(":
                self.advance()
                self.opening(t)
                args: list[Expr] = []
                if not (self.tok.kind == "op" and self.tok.text == ")"):
                    args.append(self.or_())
                    while self.tok.kind == "op" and self.tok.text == ",":
                        self.advance()
                        args.append(self.or_())
                close = self.tok
                if not (close.kind == "op" and close.text == ")"):
                    raise self.unexpected(close, f"expected ',' or ')' in the call of {t.text}()")
                self.advance()
                self.nesting -= 1
                after = self.tok
                if after.kind == "op" and after.text == ".":
                    raise self.err("not-in-language", "method calls and attributes of a call are not part of "
                                   "the expression language", after.start, after.end, None)
                return self.node(Call(t.start, close.end, t.text, t.end, tuple(args)), t, *args)
            if nxt.kind == "op" and nxt.text == ".":
                self.advance()
                attr = self.tok
                if attr.kind not in ("name", "kw"):
                    raise self.unexpected(attr, f"expected a name after '{t.text}.'")
                self.advance()
                return Name(t.start, attr.end, t.text, attr.text, attr.start)
            return Name(t.start, t.end, None, t.text, t.start)
        if t.kind == "kw":
            raise self.err("syntax", f"'{t.text}' needs a condition before it" if t.text != "not"
                           else "'not' needs a condition after it", t.start, t.end, None)
        raise self.unexpected(t, "expected a number, a name, a function call or '('")


def _describe(t: _Tok) -> str:
    if t.kind == "num":
        return f"number {t.text}"
    if t.kind == "str":
        return f"string {t.text}"
    if t.kind in ("name", "kw"):
        return f"name '{t.text}'"
    return f"'{t.text}'"


def _with_range(node: Expr, start: int, end: int) -> Expr:
    """The same node, its range widened to include enclosing parentheses."""
    import dataclasses

    return dataclasses.replace(node, start=start, end=end)


def parse_expression(text: str, locate: Callable[[int, int], Span | None]) -> Expr:
    """Parse one expression.

    Args:
        text: the expression source.
        locate: maps a character range of ``text`` to a file span, for errors.

    Raises:
        PlanError: the first syntax problem, with its position.
    """

    def err(code: str, message: str, start: int, end: int, hint: str | None) -> PlanError:
        return PlanError(code, message, locate(start, end), hint)

    return _Parser(text, err).parse()
