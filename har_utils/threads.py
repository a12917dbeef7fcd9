"""TensorFlow's thread settings of this process: set them before TensorFlow starts.

The experiment runner sets each run's count in its worker (``Run.threads``), the deployment
benchmark its timing threads, and the tests one thread before any test starts TensorFlow.
TensorFlow is imported only inside the functions, after the environment variables are set.
"""

from __future__ import annotations

import os


def configure_threads(intra: int, inter: int = 1) -> dict[str, int]:
    """Limit TensorFlow to ``intra`` intra-op and ``inter`` inter-op threads: environment
    variables first (read when TensorFlow starts), then ``tf.config.threading``. If the
    runtime of this process already started, its settings stay; the ones in effect are
    returned."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(int(intra))
    os.environ["TF_NUM_INTEROP_THREADS"] = str(int(inter))
    os.environ["OMP_NUM_THREADS"] = str(int(intra))
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(intra))
        tf.config.threading.set_inter_op_parallelism_threads(int(inter))
    except RuntimeError:  # the runtime is already initialised: its pools are fixed
        pass
    return current_threads()


def current_threads() -> dict[str, int]:
    """TensorFlow's intra-/inter-op thread settings (0: TensorFlow's own default)."""
    import tensorflow as tf

    return {"intra_op": int(tf.config.threading.get_intra_op_parallelism_threads()),
            "inter_op": int(tf.config.threading.get_inter_op_parallelism_threads())}
