"""Imports TensorFlow without its start-up chatter on stderr.

TensorFlow's C++ runtime writes informational lines at import (oneDNN, CPU
features, "All log messages before absl::InitializeLog() ...") straight to
file descriptor 2, before `TF_CPP_MIN_LOG_LEVEL` takes effect, and twice (two
shared libraries). While that level is >= 1 (ctxrnn's default is 2), the
descriptor is captured during the import and everything except those known
informational lines is written back, so a real warning or error (a CUDA
library that fails to load) still shows.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings

_INFO_LINES = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|^[I]\d{4} .*\] "  # absl INFO lines: I0000 00:00:... file.cc:123] ...
    r"|^To enable the following instructions:.*rebuild TensorFlow"
)


def import_tensorflow():
    """Imports and returns `tensorflow`, filtering its start-up info lines from stderr."""
    if "tensorflow" in sys.modules or int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") or 0) < 1:
        import tensorflow

        return tensorflow
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines()
                    if line.strip() and not _INFO_LINES.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)
    return tensorflow


def tensorflow_started() -> bool:
    """Whether TensorFlow's runtime has started in this process (it ran an op, or
    listed its devices): from then on its thread pools are fixed, and a forked child
    would inherit them in whatever state their locks were. `False` while TensorFlow
    is merely imported; `True` when it cannot tell."""
    if "tensorflow" not in sys.modules:
        return False
    try:
        from tensorflow.python.eager import context

        # TensorFlow's own test before it refuses a new thread count (no public getter).
        return context.context()._context_handle is not None
    except Exception:  # an internal that moved: assume the worst
        return True


def worker_start_method() -> str:
    """How to start worker processes (`multiprocessing` start method): forked while
    this process has only imported TensorFlow (each worker then starts with it
    imported, seconds sooner than a spawned one importing it again), spawned once
    TensorFlow's runtime runs here (forking it is unsafe) or where fork is not the
    platform's way."""
    import multiprocessing

    if (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and not tensorflow_started()):
        return "fork"
    return "spawn"


@contextlib.contextmanager
def quiet_fork_warning():
    """Silences Python's (>= 3.12) warning at a fork of a process with threads, inside
    the block: at `worker_start_method`'s forks the threads are idle library pools
    (OpenBLAS, jemalloc) that prepare for a fork themselves."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "This process .* is multi-threaded",
                                DeprecationWarning)
        yield


def usable_cores(cpu_max: str = "/sys/fs/cgroup/cpu.max") -> int:
    """The cores this process may use: its CPU affinity (`taskset`, a batch
    scheduler's binding), capped by a cgroup v2 CPU quota (a container's `--cpus`),
    which `os.cpu_count()` and the affinity mask both ignore.

    Args:
        cpu_max: the cgroup's `cpu.max` file ("QUOTA PERIOD" or "max PERIOD").

    Returns:
        At least 1.
    """
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    try:
        with open(cpu_max) as file:
            quota, period = file.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota to honour
    return cores


# Environment variables that give a thread count to libraries started later,
# and to processes this one spawns (TensorFlow reads its two at initialisation).
_THREAD_VARIABLES = {"intra_op": ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"),
                     "inter_op": ("TF_NUM_INTEROP_THREADS",)}


def inter_op_threads() -> int:
    """The inter-op threads TensorFlow runs with (independent ops at once).

    The count set through `tf.config.threading` (`configure_threads`), else the
    `TF_NUM_INTEROP_THREADS` TensorFlow read at start-up (for which its getter
    reports 0), else, when TensorFlow chooses, `usable_cores()`.
    """
    threads = import_tensorflow().config.threading.get_inter_op_parallelism_threads()
    if threads:
        return threads
    variable = os.environ.get(_THREAD_VARIABLES["inter_op"][0], "")
    if variable.strip().isdigit() and int(variable) > 0:
        return int(variable)
    return usable_cores()


def configure_threads(intra_op: int | None = None, inter_op: int | None = None) -> dict:
    """Sets TensorFlow's intra-op and inter-op thread pools before it runs its first op.

    One intra-op thread is fastest for one small network (N = 100: 5.0 ms per
    step against 12.8 ms with TensorFlow's default pools on a 2-core machine,
    `shared/PERFORMANCE.md`), and two single-threaded processes run side by
    side at almost full speed: `ctxrnn sweep` gives each of its worker
    processes one thread of each. Stacked networks (`CTRNN(..., networks=K)`)
    run in one group per inter-op thread, side by side, so a stack wants
    several inter-op threads: K = 20 networks of N = 100 on two cores took
    135-150 ms per training step (median 143) with TensorFlow's default pools,
    144-168 ms (156) with one intra-op and two inter-op threads, 157-182 ms
    (170) as one group. Large networks (N >= 500) gain from more intra-op
    threads. The counts are also written to `TF_NUM_INTRAOP_THREADS`,
    `OMP_NUM_THREADS` and `TF_NUM_INTEROP_THREADS`, so processes started from
    here inherit them.

    TensorFlow fixes its pools when it runs its first op; asking again for the
    counts already in force is allowed, asking for others after that raises.

    Args:
        intra_op: threads inside one op (a matmul); `0` lets TensorFlow choose
            (about one per core); `None` leaves the setting as it is.
        inter_op: independent ops run at once; same conventions.

    Returns:
        `{"intra_op": n, "inter_op": m}`, the settings in force afterwards.

    Raises:
        ValueError: a count that is not a non-negative integer.
        RuntimeError: TensorFlow has already run an op with other counts.

    Example:

    ```python
    import ctxrnn

    ctxrnn.configure_threads(intra_op=1, inter_op=1)  # before building any model
    ```
    """
    wanted = {"intra_op": intra_op, "inter_op": inter_op}
    for name, value in wanted.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise ValueError(f"Argument `{name}` must be a non-negative integer or None; "
                             f"received {name}={value!r}.")
    threading = import_tensorflow().config.threading
    setters = {"intra_op": (threading.get_intra_op_parallelism_threads,
                            threading.set_intra_op_parallelism_threads),
               "inter_op": (threading.get_inter_op_parallelism_threads,
                            threading.set_inter_op_parallelism_threads)}
    for name, value in wanted.items():
        if value is None:
            continue
        current, setter = setters[name]
        try:
            if current() != value:
                setter(value)
        except RuntimeError as error:
            raise RuntimeError(
                f"configure_threads({name}={value}) came too late: TensorFlow has already run "
                f"an op with {name}={current()} threads and cannot change its thread pools "
                "afterwards. Call `ctxrnn.configure_threads` (or pass `ctxrnn "
                "--intra-op-threads/--inter-op-threads`) right after `import ctxrnn`, before "
                "building or running any model, or set TF_NUM_INTRAOP_THREADS / "
                "TF_NUM_INTEROP_THREADS in the environment of the process.") from error
        for variable in _THREAD_VARIABLES[name]:
            if value > 0:
                os.environ[variable] = str(value)
            elif variable.startswith("TF_"):
                os.environ.pop(variable, None)
    return {name: getter() for name, (getter, _) in setters.items()}
