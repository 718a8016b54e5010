"""One executor for every batch of runs: in this process, in a local process pool, or on Dask.

A *task* (:class:`SimTask`) describes one simulation: the plan, the scenario, the seed,
parameter overrides, and for forecasts the real team it starts from. A *chunk* is an array of
run indices. A job is a ``(task, chunk)`` pair; :class:`Executor` runs a list of jobs and
yields each chunk's :class:`~engine.sim.simulate.ChunkResult`.

* Every process turns a task into a :class:`~engine.sim.simulate.Simulation` once
  (:func:`build_simulation`, the one place that does) and keeps it in a small cache keyed by
  the task (:func:`simulation_for`). The task travels as its pickled bytes and a digest of
  them, so a worker that has the simulation already does not even unpickle the plan.
* The plan is compiled once per process by the task's backend
  (:func:`~engine.plan.compile.compile_plan`, a row of ``BACKENDS``) and handed to the
  simulation as its payout program: the simulator never compiles a plan itself.
* Run ``i`` draws from its own streams, ``SeedSequence([seed, i, stream])`` (see
  :mod:`engine.sim.streams`), so the result of a chunk does not depend on where it runs or on
  how the runs are split: serial, process-pool and Dask results are bit-identical.
* Errors a user can cause (:class:`~engine.core.errors.EngineError`) are returned by the worker
  as values and re-raised here (or handed to the caller with ``errors="return"``): they
  unpickle into the same class with the same fields, and Dask does not retry them (its
  retries are for lost workers).
* Chunk sizes follow one rule, :func:`chunk_runs_for`; progress is a tqdm bar on stderr.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
import threading
import uuid
from collections import OrderedDict
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, Self, overload

import numpy as np

from engine.core.errors import DataError, EngineError
from engine.plan.compile import compile_plan
from engine.plan.validate import CheckedPlan
from engine.sim.scenario import Scenario
from engine.sim.simulate import ChunkResult, Conditioner, Simulation

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

__all__ = [
    "BYTES_PER_CELL",
    "MAX_CELLS",
    "Executor",
    "SimTask",
    "available_memory",
    "build_simulation",
    "chunk_runs_for",
    "chunks_of",
    "progress_bar",
    "progress_enabled",
    "run_chunks",
    "simulation_for",
]

BYTES_PER_CELL = 3_000  # measured: about 1.2 GiB peak for 400,000 (run x slot) cells
MAX_CELLS = 400_000  # larger chunks do not run faster
CACHE_SIZE = 4  # simulations kept per process


# -- tasks and the per-process cache ---------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SimTask:
    """What a worker needs to simulate runs of one plan on one scenario (picklable).

    Attributes:
        checked: the validated plan (it travels as its text).
        scenario: the scenario.
        seed: master seed (run ``i`` draws from ``SeedSequence([seed, i, stream])``).
        params: plan parameter overrides, as sorted ``(name, value)`` pairs (a dict is accepted).
        condition: the real team and its actuals so far (forecasts), or None.
        until: simulate only the first ``until`` months (None: the whole year).
        backend: the payout-program backend the plan is compiled with (a row of
            :data:`engine.plan.compile.BACKENDS`).
    """

    checked: CheckedPlan
    scenario: Scenario
    seed: int
    params: tuple[tuple[str, float], ...] | Mapping[str, float] | None = ()
    condition: Conditioner | None = None
    until: int | None = None
    backend: str = "numpy"

    def __post_init__(self) -> None:
        params = self.params
        pairs = tuple(sorted(params.items())) if isinstance(params, Mapping) else tuple(params or ())
        object.__setattr__(self, "params", pairs)
        object.__setattr__(self, "seed", int(self.seed))

    @cached_property
    def blob(self) -> bytes:
        """The simulation's description, pickled once (what is sent to workers).

        Raises:
            TypeError: the plan has no source text, so it cannot leave this process.
        """
        return pickle.dumps((self.checked, self.scenario, self.seed, self.params, self.condition, self.backend),
                            protocol=pickle.HIGHEST_PROTOCOL)

    @cached_property
    def key(self) -> str:
        """The cache key: a digest of :attr:`blob` (equal descriptions share a simulation)."""
        try:
            return hashlib.sha256(self.blob).hexdigest()
        except (TypeError, pickle.PicklingError, AttributeError):  # cannot leave this process
            return "local-" + uuid.uuid4().hex  # cached: one key per task object


def build_simulation(checked: CheckedPlan, scenario: Scenario, seed: int, params, condition: Conditioner | None,
                     backend: str = "numpy") -> Simulation:
    """The one place a task's description becomes a :class:`~engine.sim.simulate.Simulation`:
    the plan is compiled here by ``backend`` and the simulation receives the program."""
    overrides = dict(params or ()) or None
    program = compile_plan(checked, overrides, backend=backend)
    return Simulation(checked, scenario, seed, overrides, condition=condition, program=program)


_CACHE: OrderedDict[str, Simulation] = OrderedDict()  # per process: the simulations of recent tasks
_CACHE_LOCK = threading.Lock()  # a Dask worker may run chunks in several threads


def _cached(key: str, make) -> Simulation:
    with _CACHE_LOCK:
        sim = _CACHE.get(key)
        if sim is not None:
            _CACHE.move_to_end(key)
            return sim
    sim = make()
    with _CACHE_LOCK:
        _CACHE[key] = sim
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return sim


def simulation_for(task: SimTask) -> Simulation:
    """The task's simulation, built once per process and then taken from the cache."""
    return _cached(task.key, lambda: build_simulation(task.checked, task.scenario, task.seed, task.params,
                                                      task.condition, task.backend))


def _ready() -> bool:
    """A task that does nothing: starting a pool's workers (:meth:`Executor.start`)."""
    return True


def _run_remote(key: str, blob: bytes, until: int | None, runs: np.ndarray) -> ChunkResult | EngineError:
    """Run one chunk in a worker; a user error is returned (not raised) so that it is not retried."""
    try:
        sim = _cached(key, lambda: build_simulation(*pickle.loads(blob)))
        return sim.run_chunk(runs, until=until)
    except EngineError as exc:
        return exc


# -- chunk sizes and progress ------------------------------------------------------------------


def available_memory() -> int:
    """Bytes of memory available now (Linux), or 4 GiB where it cannot be read."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 1024 ** 3


def chunk_runs_for(slots: int, runs: int, workers: int, memory: int | None = None, tasks: int = 1) -> int:
    """Runs per chunk, the one rule for every batch.

    Within half the available memory shared by the workers, at most :data:`MAX_CELLS`
    (run x slot) cells, and, with several workers, small enough that the ``tasks x runs``
    runs of the batch make at least four chunks per worker.

    Args:
        slots: slots (seats plus hiring capacity) of one run.
        runs: runs per task.
        workers: processes (or Dask threads) the chunks are spread over.
        memory: bytes available (default: :func:`available_memory`).
        tasks: simulations in the batch, each of ``runs`` runs (recalibration candidates).

    Returns:
        The chunk size, at least 1.
    """
    budget = (available_memory() if memory is None else memory) // 2 // max(workers, 1)
    cells = max(min(MAX_CELLS, budget // BYTES_PER_CELL), slots)
    size = max(1, cells // max(slots, 1))
    if workers > 1:
        size = min(size, max(1, -(-runs * max(tasks, 1) // (4 * workers))))
    return size


def chunks_of(runs: int, size: int, first: int = 0) -> list[np.ndarray]:
    """Run indices ``first .. first + runs - 1`` in consecutive chunks of ``size``."""
    size = max(1, int(size))
    return [np.arange(first + lo, first + min(lo + size, runs)) for lo in range(0, runs, size)]


def progress_enabled(json_to_stdout: bool) -> bool:
    """Progress bars only on an interactive terminal, never when stdout carries JSON."""
    return not json_to_stdout and sys.stderr.isatty()


def _stderr_columns() -> int:
    """Width of the terminal on stderr (80 where it reports none, as a fresh pty does)."""
    import os

    try:
        cols = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        cols = 0
    return cols if cols > 0 else 80


def progress_bar(total: int, desc: str | None, unit: str = "run"):
    """A tqdm progress bar on stderr that disappears when done."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, ncols=_stderr_columns())


# -- the executor ------------------------------------------------------------------------------


Job = tuple[SimTask, np.ndarray]


class Executor:
    """Runs jobs (a task and a chunk of run indices) in this process, a process pool or on Dask.

    Use it as a context manager to keep one pool (or Dask connection) for several batches;
    every batch gives the same numbers whichever way it runs.

    Args:
        workers: processes on this machine (1: this process only).
        scheduler: address of a ``dask.distributed`` scheduler, or a ``distributed.Client``;
            chunks then run on its workers, re-run by Dask if a worker dies.

    Raises:
        DataError: ``dask-missing`` (no dask.distributed) or ``no-scheduler`` (unreachable),
            when a batch first needs the cluster.
    """

    def __init__(self, workers: int = 1, scheduler: Any = None):
        self.workers = max(1, int(workers))
        self.scheduler = scheduler
        self._pool: Any = None
        self._client: Any = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the process pool and close a Dask client this executor opened."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None and self._client is not self.scheduler:
            self._client.close()
        self._client = None

    @property
    def parallelism(self) -> int:
        """How many chunks run at once: the workers, or the Dask cluster's threads."""
        if self.scheduler is None:
            return self.workers
        info = self._dask().scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.values())) if info else self.workers

    def chunk_size(self, slots: int, runs: int, tasks: int = 1) -> int:
        """:func:`chunk_runs_for` with this executor's parallelism."""
        return chunk_runs_for(slots, runs, self.parallelism, tasks=tasks)

    @overload
    def imap(self, jobs: Sequence[Job], *, progress: bool = ..., desc: str | None = ...,
             errors: Literal["raise"] = ...) -> Iterator[tuple[int, ChunkResult]]: ...

    @overload
    def imap(self, jobs: Sequence[Job], *, progress: bool = ..., desc: str | None = ...,
             errors: Literal["return"]) -> Iterator[tuple[int, ChunkResult | EngineError]]: ...

    def imap(self, jobs: Sequence[Job], *, progress: bool = False, desc: str | None = None,
             errors: str = "raise") -> Iterator[tuple[int, Any]]:
        """Run the jobs; yield ``(job index, result)`` as chunks complete (in any order).

        Args:
            jobs: ``(task, run indices)`` pairs.
            progress: show a progress bar of runs on stderr.
            desc: the bar's label.
            errors: ``raise``: the first user error stops the batch and is raised;
                ``return``: a failed chunk yields its :class:`~engine.core.errors.EngineError`.
        """
        if errors not in ("raise", "return"):
            raise ValueError(f"errors must be 'raise' or 'return' (got {errors!r})")
        jobs = list(jobs)
        bar = progress_bar(sum(len(idx) for _, idx in jobs), desc) if progress and jobs else None
        if self.scheduler is not None:
            results = self._on_dask(jobs)
        elif self.workers == 1 or len(jobs) == 1:
            results = self._here(jobs, errors)
        else:
            results = self._in_pool(jobs)
        try:
            for i, res in results:
                if isinstance(res, EngineError) and errors == "raise":
                    raise res
                if bar is not None:
                    bar.update(len(jobs[i][1]))
                yield i, res
        finally:
            results.close()
            if bar is not None:
                bar.close()

    @overload
    def map(self, jobs: Sequence[Job], *, progress: bool = ..., desc: str | None = ...,
            errors: Literal["raise"] = ...) -> list[ChunkResult]: ...

    @overload
    def map(self, jobs: Sequence[Job], *, progress: bool = ..., desc: str | None = ...,
            errors: Literal["return"]) -> list[ChunkResult | EngineError]: ...

    def map(self, jobs: Sequence[Job], *, progress: bool = False, desc: str | None = None,
            errors: str = "raise") -> list[Any]:
        """Run the jobs; their results in job order (see :meth:`imap`)."""
        out: list = [None] * len(jobs)
        for i, res in self.imap(jobs, progress=progress, desc=desc, errors=errors):  # type: ignore[call-overload]
            out[i] = res
        return out

    # -- the three ways ---------------------------------------------------------------------

    @staticmethod
    def _here(jobs: list[Job], errors: str) -> Generator[tuple[int, ChunkResult | EngineError]]:
        for i, (task, idx) in enumerate(jobs):
            try:
                res: ChunkResult | EngineError = simulation_for(task).run_chunk(idx, until=task.until)
            except EngineError as exc:
                if errors == "raise":
                    raise
                res = exc
            yield i, res

    def start(self) -> None:
        """Start the local process pool and all its workers now, not on the first batch: a
        server should fork them before it starts threads (a process forked from a threaded
        one can inherit a lock another thread held). Nothing to do in this process only or
        on Dask."""
        if self.scheduler is not None or self.workers == 1:
            return
        pool = self._local_pool(self.workers)
        for fut in [pool.submit(_ready) for _ in range(self.workers)]:  # one per worker: each spawns one
            fut.result()

    def _local_pool(self, size: int) -> ProcessPoolExecutor:
        """This executor's process pool, started (with at most ``size`` workers) on first use."""
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # Forked workers inherit this process's cache (a simulation built here is not
            # rebuilt there).
            self._pool = ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("fork"))
        return self._pool

    def _in_pool(self, jobs: list[Job]) -> Generator[tuple[int, ChunkResult | EngineError]]:
        from concurrent.futures import as_completed

        pool = self._local_pool(min(self.workers, len(jobs)))
        futures = {pool.submit(_run_remote, task.key, task.blob, task.until, idx): i
                   for i, (task, idx) in enumerate(jobs)}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def _dask(self):
        if self._client is None:
            try:
                from distributed import Client
            except ImportError:  # pragma: no cover - depends on the installation
                raise DataError("dask-missing", "--scheduler needs dask.distributed",
                                hint="pip install 'incentive-engine[dask]'") from None
            if isinstance(self.scheduler, Client):
                self._client = self.scheduler
            else:
                try:
                    self._client = Client(self.scheduler, timeout=30)
                except OSError as exc:
                    raise DataError("no-scheduler", f"cannot reach the Dask scheduler at {self.scheduler}: {exc}",
                                    hint="check the address (tcp://HOST:8786) or unset DASK_SCHEDULER_ADDRESS"
                                    ) from None
        return self._client

    def _on_dask(self, jobs: list[Job]) -> Generator[tuple[int, ChunkResult | EngineError]]:
        """Each chunk is a pure function of its task and run indices, so Dask may run it on any
        worker and re-run it after a worker failure without changing the result."""
        from distributed import as_completed

        client = self._dask()
        futures = [client.submit(_run_remote, task.key, task.blob, task.until, idx, pure=False, retries=3)
                   for task, idx in jobs]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                yield index[fut.key], fut.result()
        finally:
            for fut in futures:
                if not fut.done():
                    fut.cancel()


def run_chunks(task: SimTask, chunks: Sequence[np.ndarray], *, workers: int = 1, scheduler: Any = None,
               progress: bool = False, desc: str | None = None) -> Iterator[tuple[int, ChunkResult]]:
    """Run chunks of one task; yield ``(chunk index, result)`` as they complete.

    Args:
        task: the simulation.
        chunks: run indices, one array per chunk.
        workers: processes on this machine (1: this process only).
        scheduler: a Dask scheduler address or ``distributed.Client`` (then ``workers`` is unused).
        progress: progress bar on stderr.
        desc: its label.

    Raises:
        EngineError: the first user error of any chunk, intact (so no result is an error).
    """
    with Executor(workers, scheduler) as ex:
        yield from ex.imap([(task, idx) for idx in chunks], progress=progress, desc=desc)
