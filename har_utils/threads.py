"""The compute threads of this process: set them before the Keras backend starts.

Results depend on the thread count (float rounding), so every run names its count and sets
it here first. JAX sizes its CPU pool by the process's CPU affinity, so ``n`` cores are
claimed with a lock file each (``har_utils-cpu-<i>.lock`` in the temp folder) and two workers
take different cores; TensorFlow (the export) gets its intra-/inter-op settings.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from har_utils import backend

#: Lock files of the cores this process claimed (kept open: the locks last as long as it).
_CLAIMS: list[IO[Any]] = []


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity: the most threads it can use; where
    the system has no affinity, the machine's cores)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _jax_started() -> bool:
    """Whether JAX created its CPU client in this process (its thread pool is then fixed)."""
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge
    except ImportError:  # another jax layout: assume it started
        return True
    return bool(getattr(xla_bridge, "_backends", {}))


def _claim_cores(n: int) -> set[int]:
    """``n`` of the cores this process may use, preferring ones no other process of this
    machine has claimed (``fcntl`` lock per core); the claims are kept until exit."""
    import fcntl

    allowed = sorted(os.sched_getaffinity(0))
    if n >= len(allowed):
        return set(allowed)
    folder = Path(tempfile.gettempdir())
    mine: list[int] = []
    for cpu in allowed:
        if len(mine) == n:
            break
        f = open(folder / f"har_utils-cpu-{cpu}.lock", "a")  # noqa: SIM115 - kept open
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        _CLAIMS.append(f)
        mine.append(cpu)
    mine += [cpu for cpu in allowed if cpu not in mine][:n - len(mine)]  # all claimed: share
    return set(mine)


def configure_threads(intra: int, inter: int = 1) -> dict[str, int]:
    """Limit this process to ``intra`` compute threads (TensorFlow: also ``inter`` inter-op),
    before the backend starts; returns the settings in effect. ``intra`` above the cores
    available gets them all (:func:`current_threads` says so)."""
    intra = int(intra)
    if intra < 1:
        raise ValueError(f"threads must be at least 1 (this process may use "
                         f"{available_cores()} core(s)), not {intra}")
    os.environ["OMP_NUM_THREADS"] = str(intra)
    if backend.current() == "jax":
        if not _jax_started() and intra != available_cores():
            os.sched_setaffinity(0, _claim_cores(intra))
        return current_threads()
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(intra)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(int(inter))
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(int(inter))
    except RuntimeError:  # the runtime is already initialised: its pools are fixed
        pass
    return current_threads()


def current_threads() -> dict[str, int]:
    """The compute threads of this process: on JAX the cores it may run on (``intra_op``;
    ``inter_op`` 1), on TensorFlow its intra-/inter-op settings (0: TensorFlow's default)."""
    if backend.current() == "jax":
        return {"intra_op": available_cores(), "inter_op": 1}
    import tensorflow as tf

    return {"intra_op": int(tf.config.threading.get_intra_op_parallelism_threads()),
            "inter_op": int(tf.config.threading.get_inter_op_parallelism_threads())}
