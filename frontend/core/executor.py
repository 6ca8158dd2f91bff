"""One executor for parallel work: serial, local worker processes, or a Dask distributed cluster.

Every stage that fans work out (search scoring and hardware cost, proxy-bench training and scoring; later supernet
evaluation and bitstream builds) goes through :func:`make_executor`, which returns an :class:`Executor`:

- ``workers <= 1`` and no scheduler: :class:`SerialExecutor`, tasks run in the calling process;
- ``workers > 1``: :class:`ProcessExecutor`, a ``concurrent.futures`` pool of ``spawn``-ed local processes;
- ``scheduler="tcp://host:8786"``: :class:`DaskExecutor`, tasks run on the workers of a running Dask scheduler
  (``pip install "nash-hls[distributed]"``); ``workers`` is then ignored (the cluster has its own).

All three take picklable module-level callables and arguments, ``submit`` one call or ``map`` a callable over many
items, and ``map`` yields results in the order of its items, so a caller's results do not depend on which executor ran
them. An ``initializer`` (for example one torch thread per process) runs once in every worker process before its first
task; the serial executor runs tasks in the caller's process and leaves that process's set-up to the caller. No
executor state is global: each executor owns its pool or client (never a process-wide default client) and releases it
on ``close`` or at the end of a ``with`` block. This module imports neither torch nor dask at import time.
"""

from __future__ import annotations

import pickle
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from nash.frontend.core.errors import UserInputError

DASK_INSTALL = 'pip install "nash-hls[distributed]"  (or: pip install "dask[distributed]")'
CONNECT_TIMEOUT_S = 10.0


class Executor(ABC):
    """Runs picklable callables, here or in worker processes; ``parallel`` says whether tasks leave this process."""

    parallel: bool = False

    @abstractmethod
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Start ``fn(*args, **kwargs)``; returns a future whose ``result()`` is its value (or raises its error)."""

    @abstractmethod
    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """``fn(item)`` for every item; yields the results in the order of ``items`` as they become available."""

    @abstractmethod
    def close(self) -> None:
        """Release the pool or the cluster connection (a cluster itself keeps running)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """Runs each task at once in the calling process (no initializer: the caller sets up its own process)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as e:  # stored like a pool's task error; re-raised by result()
            fut.set_exception(e)
        return fut

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        for item in items:  # lazy: a caller's progress bar advances per task
            yield fn(item)

    def close(self) -> None:
        pass  # nothing to release


class ProcessExecutor(Executor):
    """A pool of ``workers`` local processes started with ``spawn`` (safe with torch's threads; same on every OS)."""

    parallel = True

    def __init__(self, workers: int, initializer: Callable[..., None] | None = None, initargs: tuple = ()):
        import multiprocessing as mp

        self.workers = workers
        self._pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=initializer,
                                         initargs=initargs)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        return self._pool.submit(fn, *args, **kwargs)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return self._pool.map(fn, items)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """Tasks on the workers of a running Dask distributed scheduler at ``address`` (``tcp://host:8786``).

    The workers need this package installed (same version) to unpickle the tasks. The initializer runs in each
    worker process before the first task of this kind that lands there (workers that join later included).
    """

    parallel = True

    def __init__(self, address: str, initializer: Callable[..., None] | None = None, initargs: tuple = (),
                 timeout: float = CONNECT_TIMEOUT_S):
        try:
            from distributed import Client
        except ImportError as e:
            raise UserInputError(f"--scheduler {address}: needs Dask distributed, which is not installed "
                                 f"({e.msg}); install it with {DASK_INSTALL}") from None
        _check_reachable(address, timeout)
        try:
            # set_as_default=False: no process-wide default client, so two executors never share state.
            self._client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, ValueError, TimeoutError) as e:
            raise UserInputError(f"--scheduler {address}: cannot connect to a Dask scheduler there "
                                 f"({_first_line(e)}); start one with `dask scheduler`") from None
        self.address = address
        self._init = None if initializer is None else (initializer, tuple(initargs))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        # fn's keyword arguments travel packed, so none of them is taken for one of Client.submit's own (pure, key...).
        return self._client.submit(_initialized_call, self._init, fn, args, kwargs, pure=False)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        # Submit everything first (the cluster runs it in parallel), then hand back results in input order.
        futures = [self.submit(fn, item) for item in items]
        return _results_in_order(futures)

    def close(self) -> None:
        self._client.close()


def make_executor(workers: int = 1, scheduler: str | None = None, initializer: Callable[..., None] | None = None,
                  initargs: tuple = ()) -> Executor:
    """The executor for ``workers`` local processes, or for the Dask scheduler at ``scheduler`` when given.

    ``initializer(*initargs)`` runs once in every worker process (not in the caller's process when serial).
    Raises :class:`UserInputError` (one line, naming ``--scheduler``) when the scheduler cannot be reached or Dask
    is not installed.
    """
    if scheduler:
        return DaskExecutor(scheduler, initializer, initargs)
    if workers <= 1:
        return SerialExecutor()
    return ProcessExecutor(workers, initializer, initargs)


# ---- helpers ---------------------------------------------------------------------------------------------------------
def _results_in_order(futures: list) -> Iterator[Any]:
    for i, f in enumerate(futures):
        yield f.result()
        futures[i] = None  # let the cluster drop a result once it has been handed over


_INITIALIZED: set[bytes] = set()  # worker side: initializers that already ran in this process
_INIT_LOCK = threading.Lock()


def _initialized_call(init: tuple | None, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Run in a Dask worker: the initializer (if any) once per process, as a process pool's would, then ``fn``."""
    if init is not None:
        key = pickle.dumps(init)
        with _INIT_LOCK:
            if key not in _INITIALIZED:
                init[0](*init[1])
                _INITIALIZED.add(key)
    return fn(*args, **kwargs)


def _check_reachable(address: str, timeout: float) -> None:
    """Fail fast, with one line, when nothing listens at a ``tcp://`` scheduler address (no half-made client)."""
    from distributed.comm import parse_address, parse_host_port

    try:
        scheme, loc = parse_address(address)
        if scheme != "tcp":
            return  # tls, ucx, ...: left to the client
        host, port = parse_host_port(loc)
    except ValueError as e:
        raise UserInputError(f"--scheduler {address!r}: {_first_line(e)}; expected tcp://HOST:PORT "
                             "(a Dask scheduler, default port 8786)") from None
    try:
        with socket.create_connection((host, port), timeout=min(timeout, 5.0)):
            pass
    except OSError as e:
        raise UserInputError(f"--scheduler {address}: no Dask scheduler answers at {host}:{port} ({_first_line(e)}); "
                             "start one with `dask scheduler` and workers with `dask worker "
                             f"{address}`") from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]

