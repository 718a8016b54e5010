"""One root error for everything a user can get wrong, with structured subclasses.

Every error a user can cause derives from :class:`EngineError`. The command line catches
exactly that class, prints :meth:`EngineError.render` and exits with status 2; anything
else is a bug in the engine and keeps its traceback.

* :class:`PlanError` is one problem in a plan file: it carries a stable ``code``, a
  :class:`Span` (file, line, column, and the text of the line) and an optional ``hint``.
  Validation collects every problem it finds and raises them together as
  :class:`PlanErrors`.
* :class:`DataError` is one problem in a roster, actuals or transactions table: it names
  the file, the row (as numbered in the file, header being row 1), the column and the rep.
* :class:`EvaluationError` is a value that is not finite for some rep and period: it
  names the rep, the period and the plan expression that produced it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.core.text import display_width

__all__ = [
    "DataError",
    "DataErrors",
    "EngineError",
    "EvaluationError",
    "PlanError",
    "PlanErrors",
    "Span",
]


@dataclass(frozen=True)
class Span:
    """Where something came from in a source file.

    Attributes:
        file: path of the file as the user named it.
        line: 1-based line number.
        column: 1-based column of the first character.
        length: number of characters covered on that line (at least 1 when rendered).
        text: the full text of ``line`` (without its newline), for the caret display.
    """

    file: str
    line: int
    column: int
    length: int = 1
    text: str = ""

    def shifted(self, offset: int, length: int) -> Span:
        """The span of ``length`` characters starting ``offset`` characters into this one."""
        return Span(self.file, self.line, self.column + offset, max(length, 1), self.text)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class EngineError(Exception):
    """Root of every error caused by user input (plans, scenarios, data).

    Every subclass survives ``pickle`` with all its fields (so an error raised in a worker
    process or on a Dask cluster arrives intact): :meth:`__reduce__` rebuilds it from the
    constructor arguments each subclass records in ``_init``, then restores its attributes.
    """

    code: str = "error"

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self._init: tuple[tuple[object, ...], dict[str, object]] = (args, {})

    def __reduce__(self):
        args, kwargs = getattr(self, "_init", (self.args, {}))
        # The state restores whatever was set after construction too (a span filled in later).
        return (_rebuild, (type(self), args, kwargs), dict(self.__dict__))

    def render(self) -> str:
        """The message as the command line prints it."""
        return str(self)


class PlanError(EngineError):
    """One problem in a plan (or scenario) file.

    Args:
        code: stable, documented identifier of the kind of problem (e.g. ``unknown-name``).
        message: what is wrong, in one sentence.
        span: where it is; ``None`` only for problems with the file as a whole.
        hint: what to do about it (``did you mean 'revenue'?``), or ``None``.
    """

    def __init__(self, code: str, message: str, span: Span | None = None, hint: str | None = None):
        super().__init__(message)
        self._init = ((code, message, span, hint), {})
        self.code = code
        self.message = message
        self.span = span
        self.hint = hint

    def render(self) -> str:
        if self.span is None:
            return f"error[{self.code}]: {self.message}" + (f"\n  = hint: {self.hint}" if self.hint else "")
        s = self.span
        lines = [f"{s.file}:{s.line}:{s.column}: error[{self.code}]: {self.message}"]
        if s.text:
            gutter = str(s.line)
            pad = " " * len(gutter)
            caret_col = max(s.column - 1, 0)
            # Tabs before the caret are kept so that the caret lines up with the text; a wide
            # character (Chinese) takes two columns, so the caret line measures display width.
            lead = "".join(ch if ch == "\t" else " " * display_width(ch) for ch in s.text[:caret_col])
            width = max(1, display_width(s.text[caret_col:caret_col + max(s.length, 1)]))
            lines.append(f" {pad} |")
            lines.append(f" {gutter} | {s.text}")
            lines.append(f" {pad} | {lead}{'^' * width}")
        if self.hint:
            lines.append(f"  = hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        where = f"{self.span}: " if self.span else ""
        return f"{where}error[{self.code}]: {self.message}"

    def __repr__(self) -> str:
        return f"PlanError({self.code!r}, {self.message!r}, {self.span!s})"


class PlanErrors(EngineError):
    """Every problem validation found in one file, reported at once."""

    code = "invalid-plan"

    def __init__(self, errors: Sequence[PlanError]):
        ordered = sorted(
            errors,
            key=lambda e: (e.span.line, e.span.column) if e.span else (0, 0),
        )
        self.errors: tuple[PlanError, ...] = tuple(ordered)
        super().__init__("\n".join(str(e) for e in self.errors))
        self._init = ((self.errors,), {})

    def render(self) -> str:
        n = len(self.errors)
        body = "\n\n".join(e.render() for e in self.errors)
        return f"{body}\n\n{n} error{'s' if n != 1 else ''} found"

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.errors]


class DataError(EngineError):
    """One problem in an input table (roster, actuals, transactions).

    Args:
        code: stable identifier (``missing-column``, ``not-a-number``, ``duplicate-rep``...).
        message: what is wrong.
        file: the table's path (or a description such as ``roster``).
        row: row number as a spreadsheet shows it (header = 1, first data row = 2), or None.
        column: the column name, or None.
        rep: the rep id concerned, or None.
        hint: what to do about it.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        rep: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message)
        self._init = ((code, message), {"file": file, "row": row, "column": column, "rep": rep, "hint": hint})
        self.code = code
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        self.rep = rep
        self.hint = hint

    def render(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.rep is not None:
            where.append(f"rep '{self.rep}'")
        prefix = (", ".join(where) + ": ") if where else ""
        out = f"{prefix}error[{self.code}]: {self.message}"
        if self.hint:
            out += f"\n  = hint: {self.hint}"
        return out

    def __str__(self) -> str:
        return self.render()


class DataErrors(EngineError):
    """Several data problems found at once.

    Args:
        errors: the problems kept (a loader keeps at most a few hundred; a last
            ``too-many-errors`` entry may say how many more there were).
        total: how many problems were found in all (default: the problems in ``errors``).
    """

    code = "invalid-data"
    SHOWN = 50  # problems printed; the count below them is of all

    def __init__(self, errors: Iterable[DataError], total: int | None = None):
        self.errors: tuple[DataError, ...] = tuple(errors)
        problems = sum(e.code != "too-many-errors" for e in self.errors)
        self.total: int = problems if total is None else max(int(total), problems)
        super().__init__("\n".join(str(e) for e in self.errors))
        self._init = ((self.errors,), {"total": self.total})

    def render(self) -> str:
        n = self.total
        listed = [e for e in self.errors if e.code != "too-many-errors"]
        shown = listed[: self.SHOWN]
        body = "\n".join(e.render() for e in shown)
        more = f"\n... and {n - len(shown)} more" if n > len(shown) else ""
        return f"{body}{more}\n\n{n} data error{'s' if n != 1 else ''} found"

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.errors]


class EvaluationError(EngineError):
    """A plan expression produced a value that is not finite (or otherwise unusable).

    Args:
        code: ``non-finite`` or another stable identifier.
        message: what happened.
        rep: the rep id.
        period: the period label.
        expression: the plan text of the expression.
        span: where the expression is in the plan.
        hint: what to do about it.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        rep: str | None = None,
        period: str | None = None,
        expression: str | None = None,
        span: Span | None = None,
        hint: str | None = None,
    ):
        super().__init__(message)
        self._init = ((code, message), {"rep": rep, "period": period, "expression": expression,
                                            "span": span, "hint": hint})
        self.code = code
        self.message = message
        self.rep = rep
        self.period = period
        self.expression = expression
        self.span = span
        self.hint = hint

    def render(self) -> str:
        loc = f"{self.span}: " if self.span else ""
        who = []
        if self.rep is not None:
            who.append(f"rep '{self.rep}'")
        if self.period is not None:
            who.append(f"period {self.period}")
        out = f"{loc}error[{self.code}]: {self.message}"
        if who:
            out += f" for {', '.join(who)}"
        if self.expression:
            out += f"\n  in expression: {self.expression}"
        if self.hint:
            out += f"\n  = hint: {self.hint}"
        return out

    def __str__(self) -> str:
        return self.render()


def _rebuild(cls: type, args: tuple, kwargs: dict) -> EngineError:
    """Unpickle an :class:`EngineError` by calling its constructor again."""
    return cls(*args, **kwargs)
