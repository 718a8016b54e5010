"""The ``numba`` backend: a plan compiled to one kernel specialized for it, numpy as the fallback.

:func:`~engine.plan.lower_numba.lower_plan` writes the plan's kernel as Python source; this
module compiles it with numba and calls it. Compiled kernels are cached on disk across
processes: the source is written once, named by a digest of itself and the numba version,
into :func:`cache_dir`, and imported from there, so that numba's own cache (``cache=True``,
which needs a real source file) sits next to it in ``__pycache__``. A process imports each
kernel once (:data:`_LOADED`).

:class:`NumbaPlan` is the payout program. It holds the numpy program of the same plan and
evaluates with it, transparently, where the kernel does not apply: numba is not installed,
the plan uses a construct the kernel does not compute (:class:`~engine.plan.lower_numba.Unsupported`),
the inputs have a shape it does not take (an effective-dated roster, text in a numeric
roster column), or a value is not finite (a checked one, or a transaction row's) (numpy then raises the error naming the
rep, period and expression). :attr:`NumbaPlan.backend` says which one the plan runs on and
:attr:`NumbaPlan.ran` counts the evaluations of each.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.errors import DataErrors, EvaluationError
from engine.core.inputs import Inputs
from engine.plan.compile import BACKENDS, CompiledPlan, PayoutArrays, in_list
from engine.plan.functions import OPERATORS
from engine.plan.lower_numba import Lowered, Unsupported, lower_plan
from engine.plan.validate import CheckedPlan

__all__ = ["CACHE_ENV", "KernelInfo", "NumbaPlan", "cache_dir", "load_kernel"]

CACHE_ENV = "INCENTIVE_KERNEL_CACHE"
"""Environment variable naming the directory of compiled kernels (default: under the user
cache directory, ``$XDG_CACHE_HOME/incentive-engine/kernels`` or ``~/.cache/...``)."""


def cache_dir() -> Path:
    """Where generated kernels and numba's cache of them are kept."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "incentive-engine" / "kernels"


@dataclass(frozen=True)
class KernelInfo:
    """A loaded kernel and what loading it cost.

    Attributes:
        kernel: the numba dispatcher.
        seconds: import and compile time in this process (0 when already loaded here).
        from_cache: numba loaded the machine code from its disk cache (no compilation).
        path: the generated source file.
    """

    kernel: Any
    seconds: float
    from_cache: bool
    path: Path


_LOADED: dict[str, KernelInfo] = {}
_LOCK = threading.Lock()


def _write_once(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` unless it is there already (atomically: workers may race;
    the file is never rewritten, so numba's cache, keyed by its time stamp, stays valid)."""
    if path.exists():
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".py")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.link(tmp, path)  # never replaces: a file another process wrote first stays
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def load_kernel(lowered: Lowered) -> KernelInfo:
    """Compile (or load from the disk cache) the kernel of ``lowered``, once per process.

    Raises:
        ImportError: numba is not installed.
    """
    import numba

    key = f"{lowered.digest}_nb{numba.__version__.replace('.', '_')}"
    with _LOCK:
        got = _LOADED.get(key)
        if got is not None:
            return KernelInfo(got.kernel, 0.0, True, got.path)
        path = None
        for d in (cache_dir(), Path(tempfile.gettempdir()) / f"incentive-kernels-{os.getuid()}"):
            try:
                d.mkdir(parents=True, exist_ok=True)
                path = d / f"k_{key}.py"
                _write_once(path, lowered.source)
                break
            except OSError:
                path = None
        if path is None:
            raise OSError("no writable directory for compiled kernels (set INCENTIVE_KERNEL_CACHE)")
        start = time.perf_counter()
        spec = importlib.util.spec_from_file_location(f"_incentive_kernel_{key}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # numba's cache finds a kernel's globals through its module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[spec.name]
            raise
        kernel = module.kernel
        info = KernelInfo(kernel, time.perf_counter() - start, bool(kernel.stats.cache_hits), path)
        _LOADED[key] = info
        return info


def _to4(x, shape: tuple[int, ...], dtype) -> np.ndarray:
    """``x`` broadcast to ``shape`` ``(..., R, P)``, as a read-only ``(A, B, R, P)`` view
    (leading axes padded with ones, or the first ones merged)."""
    arr = np.asarray(x, dtype=dtype)
    if len(shape) <= 4:  # pad to 4 dimensions, then one broadcast (no copy)
        shape4 = (1,) * (4 - len(shape)) + shape
        return np.broadcast_to(arr.reshape((1,) * (4 - arr.ndim) + arr.shape) if arr.ndim < 4 else arr, shape4)
    arr = np.broadcast_to(arr, shape)
    arr = arr.reshape((int(np.prod(shape[:-3])),) + shape[-3:])
    return np.broadcast_to(arr, arr.shape)


class NumbaPlan:
    """A plan compiled to a numba kernel, with the numpy program as its fallback.

    Build with ``compile_plan(checked, params, backend="numba")``.

    Attributes:
        checked: the validated plan (parameter overrides applied).
        numpy: the numpy program of the same plan (the fallback).
        backend: ``"numba"`` when the plan is compiled to a kernel, else ``"numpy"``.
        reason: why the plan runs on numpy (None when it does not).
        compile_seconds: time to lower and load the kernel in this process.
        from_cache: the kernel's machine code came from the disk cache.
        ran: evaluations per backend that actually ran (``{"numba": 12, "numpy": 1}``).
    """

    def __init__(self, checked: CheckedPlan, params: dict[str, float] | None = None):
        self.numpy = CompiledPlan(checked, params)
        self.checked = self.numpy.checked
        self.ran: Counter[str] = Counter()
        self.reason: str | None = None
        self.compile_seconds = 0.0
        self.from_cache = False
        self.lowered: Lowered | None = None
        self.kernel: Any = None
        start = time.perf_counter()
        try:
            import numba
        except ImportError:
            self.reason = "numba is not installed"
        else:
            try:
                self.lowered = lower_plan(self.numpy)
                info = load_kernel(self.lowered)
            except Unsupported as exc:
                self.reason = f"the plan uses {exc}, which the numba kernel does not compute"
            except (numba.core.errors.NumbaError, ImportError, OSError) as exc:  # a bug, never the user's problem
                self.reason = f"the kernel did not compile ({type(exc).__name__}: {str(exc)[:200]})"
            else:
                self.kernel = info.kernel
                self.from_cache = info.from_cache
        self.compile_seconds = time.perf_counter() - start

    @property
    def backend(self) -> str:
        return "numpy" if self.kernel is None else "numba"

    def describe(self) -> dict:
        """What the JSON documents say about the backend."""
        doc: dict = {"requested": "numba", "ran": self.backend,
                     "compile_seconds": round(self.compile_seconds, 3), "from_cache": self.from_cache}
        if self.reason is not None:
            doc["fallback"] = self.reason
        return doc

    def _refuses(self, inputs: Inputs) -> bool:
        """Inputs the kernel does not take: an effective-dated roster, text in a roster column."""
        if inputs.layers:
            return True
        assert self.lowered is not None
        return any(np.asarray(inputs.roster[name]).dtype == object
                   for kind, name in self.lowered.inputs if kind == "roster" and name not in inputs.roster_at)

    def _text_test(self, inputs: Inputs, kind: str, name: str, op: str, items: tuple) -> np.ndarray:
        """A column compared with literals or looked up in a table, as the numpy evaluator does."""
        col = self.numpy.roster_column(inputs, name) if kind == "roster" else inputs.actuals[name]
        if op in ("lookup", "has"):  # as the numpy evaluator's lookup (NaN: a missing key, no default)
            table, default = items
            t = self.numpy.tables[table]
            pos = t.positions(col)
            if op == "has":
                return pos >= 0
            vals = t.values[np.maximum(pos, 0)] if len(t.values) else np.zeros(pos.shape)
            d = t.default if default is None else default
            return np.where(pos < 0, np.nan if d is None else d, vals)
        if op in ("in", "not in"):
            return in_list(col, list(items), op == "not in")
        eq = np.asarray(OPERATORS["=="].numpy(col, items[0]), dtype=bool)
        return eq if op == "==" else ~eq

    def evaluate(self, inputs: Inputs, grades: bool = True, record: dict | None = None,
                 reference: dict | None = None) -> PayoutArrays:
        """Evaluate as :meth:`CompiledPlan.evaluate <engine.plan.compile.CompiledPlan.evaluate>`
        does (same results within rounding, same errors), with the kernel where it applies.

        With ``grades=False`` (the simulator's what-if evaluations, which read only the
        total) the kernel writes only ``total``; every other array is computed by a second
        pass of the kernel the first time it is read.
        """
        prog = self.numpy
        if self.kernel is not None:
            prog._bind(inputs)  # the inputs' data errors first, as numpy raises them
        if self.kernel is None or self._refuses(inputs):
            self.ran["numpy"] += 1
            return prog.evaluate(inputs, grades=grades, record=record, reference=reference)
        try:  # row-level measures: gathered from the rows into periods by numpy
            gathered = prog.row_periods(inputs) if prog.row_measures else {}
        except (EvaluationError, DataErrors):  # numpy raises the first error of its own order
            gathered = {}
            got = None
        else:
            got = self._run(inputs, gathered, grades, full=grades)
        if got is None:  # a checked value is not finite: numpy raises the error (or agrees it is none)
            self.ran["numpy"] += 1
            return prog.evaluate(inputs, grades=grades, record=record, reference=reference)
        self.ran["numba"] += 1
        if grades:
            return got
        return _TotalFirst(got.total, got.active, lambda: self._run(inputs, gathered, False, full=True))

    def _run(self, inputs: Inputs, gathered: dict[str, np.ndarray], grades: bool, full: bool
             ) -> PayoutArrays | None:
        """The kernel on ``inputs`` (None when a checked value is not finite)."""
        prog, lowered = self.numpy, self.lowered
        assert lowered is not None
        shape = np.broadcast_shapes(
            inputs.active.shape, np.shape(inputs.proration),
            *(np.shape(a) for a in inputs.actuals.values()),
            *(np.shape(v)[:-1] + (np.shape(v)[-1], 1) for v in inputs.roster.values() if np.ndim(v) > 1),
        )
        args = [_to4(gathered[name] if kind == "gathered" else self._input(inputs, kind, name), shape, np.float64)
                for kind, name in lowered.inputs]
        act = _to4(inputs.active, shape, bool)
        want = grades and lowered.grades != ()
        out = np.empty(((len(lowered.outputs) if full else 1),) + act.shape)
        gout = np.zeros(act.shape if want else (1, 1, 1, 1), dtype=np.int8)
        flag = np.zeros(1, dtype=np.int64)
        years = [p.fiscal_year for p in inputs.periods]
        starts = np.array([i == 0 or years[i] != years[i - 1] for i in range(len(years))], dtype=bool)
        slots = np.array(lowered.slots, dtype=np.float64)
        self.kernel(act, np.broadcast_to(starts, starts.shape), np.broadcast_to(slots, slots.shape), *args, out, gout,
                    flag, want, full)
        if flag[0]:
            return None
        active = np.broadcast_to(inputs.active, shape)
        if not full:
            return PayoutArrays(columns={}, adjustment=out[0].reshape(shape), total=out[0].reshape(shape),
                                grades=None, active=active)
        groups: dict[str, dict[str, np.ndarray]] = {}
        for k, o in enumerate(lowered.outputs):
            arr = out[k].reshape(shape)
            groups.setdefault(o.group, {})[o.name] = arr != 0 if o.boolean else arr
        earned = groups.get("earned", {})
        modified = {name: groups.get("modified", {}).get(name, v) for name, v in earned.items()}
        capped = groups["capped"][""]
        return PayoutArrays(
            columns=groups.get("column", modified) if prog.accumulate else modified,
            adjustment=groups["adjustment"][""], total=groups["total"][""],
            grades=np.array(lowered.grades, dtype=object)[gout.reshape(shape)] if want else None,
            grade_codes=gout.reshape(shape) if want else None, grade_labels=tuple(lowered.grades) if want else (),
            active=active, earned=earned, modified=dict(modified), scores=groups.get("score", {}),
            values=groups.get("value", {}), capped_total=capped,
            paid_before_draw=groups.get("paid", {}).get("", capped), base_pay=groups.get("base_pay", {}).get(""),
        )

    def _input(self, inputs: Inputs, kind: str, name: str):
        """The array behind one input of the kernel (see :attr:`Lowered.inputs`)."""
        prog, lowered = self.numpy, self.lowered
        assert lowered is not None
        if kind == "roster":
            return prog.roster_column(inputs, name)
        if kind == "actual":
            return inputs.actuals[name]
        if kind == "tenure":
            return prog.tenure(inputs)
        if kind == "text":
            return self._text_test(inputs, *lowered.text_tests[int(name)])
        if kind == "follows":
            return inputs.follows_previous
        if kind == "count":  # rows gathered into each cell for the column: where it holds data
            return inputs.counts.get(name, inputs.active)
        if kind == "rows":
            return inputs.active if inputs.row_counts is None else inputs.row_counts
        return inputs.proration


_LATER = ("columns", "adjustment", "grades", "earned", "modified", "scores", "values", "capped_total",
          "paid_before_draw", "base_pay")


class _TotalFirst(PayoutArrays):
    """:class:`PayoutArrays` whose ``total`` and ``active`` are there at once and whose other
    fields are computed (all together, by ``fill``) the first time one of them is read."""

    def __init__(self, total: np.ndarray, active: np.ndarray, fill) -> None:  # no dataclass __init__
        self.__dict__.update(total=total, active=active, _fill=fill)

    def __reduce__(self):
        """Pickled and copied as the plain :class:`PayoutArrays` it stands for."""
        return PayoutArrays, tuple(getattr(self, f.name) for f in dataclasses.fields(PayoutArrays))


def _later(name: str) -> property:
    def get(self):
        d = self.__dict__
        if name not in d:
            full = d["_fill"]()
            assert full is not None  # the first pass found every checked value finite
            for f in _LATER:
                d.setdefault(f, getattr(full, f))
        return d[name]

    def put(self, value) -> None:
        self.__dict__[name] = value
    return property(get, put)


for _name in _LATER:
    setattr(_TotalFirst, _name, _later(_name))


BACKENDS["numba"] = NumbaPlan
