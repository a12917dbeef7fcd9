"""The Keras callback of a training run: each epoch's randomness from (seed, epoch)
(:class:`EpochSeeds`)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


class EpochSeeds(keras.callbacks.Callback):
    """Draw every epoch's randomness from (seed, epoch) alone, so a resumed run shuffles and
    drops out as the uninterrupted one does: NumPy's global generator (the window order on
    JAX) is seeded from (seed, epoch), and each model ``SeedGenerator`` gets its built state
    with the counter moved to ``epoch * 2**20``. (TensorFlow's ``tf.data`` is not covered.)"""

    STEP = 2**20

    def __init__(self, seed: int):
        super().__init__()
        self.seed = int(seed)
        self._initial: list[tuple[Any, np.ndarray]] = []
        #: The first epoch (0-based) this fit ran: > 0 when it resumed.
        self.first_epoch: int | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.first_epoch = None
        self._initial = [(v, np.asarray(v.numpy()).copy()) for v in self.model.non_trainable_variables
                         if v.path.endswith("seed_generator_state")]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.first_epoch is None:
            self.first_epoch = int(epoch)
        np.random.seed(np.random.SeedSequence([self.seed, int(epoch)]).generate_state(1)[0])
        for var, start in self._initial:
            state = start.copy()
            state[-1] = (int(start[-1]) + int(epoch) * self.STEP) % 2**32
            var.assign(state)
