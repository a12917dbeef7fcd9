"""The model's input layers: standardisation (fitted on the fit windows) and training-only
augmentation, so a saved model needs no extra state to predict."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

#: Augmentations ``TrainConfig.augment`` may combine with "+" (written in this order).
AUGMENTATIONS: tuple[str, ...] = ("noise", "scaling", "shift")


def parse_augment(augment: str) -> tuple[str, ...]:
    """``"scaling+noise"`` -> ``("noise", "scaling")`` (order of ``AUGMENTATIONS``); "none"
    -> ``()``. Unknown or repeated names raise ``ValueError``."""
    names = [] if augment.strip() == "none" else [a.strip() for a in augment.split("+")]
    bad = [a for a in names if a not in AUGMENTATIONS]
    if bad or len(set(names)) != len(names):
        raise ValueError(f"bad augment {augment!r}: use 'none' or names from {AUGMENTATIONS} "
                         "joined by '+', each at most once")
    return tuple(a for a in AUGMENTATIONS if a in names)


def standardization_layer(X: np.ndarray) -> keras.layers.Normalization:
    """A ``Normalization(axis=-1)`` with fixed per-channel mean/variance of windows ``X``
    (n, steps, channels), over all windows and time steps (computed in float64)."""
    X = np.asarray(X)
    if X.ndim != 3 or len(X) == 0:
        raise ValueError(f"need non-empty windows (n, steps, channels), got shape {X.shape}")
    mean = X.mean(axis=(0, 1), dtype=np.float64)
    var = X.var(axis=(0, 1), dtype=np.float64)
    return keras.layers.Normalization(axis=-1, mean=mean.tolist(), variance=var.tolist(),
                                      name="standardize")


@keras.saving.register_keras_serializable(package="har_utils")
class Augment(keras.layers.Layer):
    """Training-only augmentation of windows (batch, steps, channels); identity at inference.

    Applied in a fixed order whatever order ``kinds`` is written in: ``shift`` (circular, by
    a random whole number of steps in [-max_shift, max_shift] per window), ``scaling`` (one
    factor ~ N(1, scale_std) per window), then ``noise`` (N(0, noise_std) per value). Random
    draws come from a ``keras.random.SeedGenerator``, so ``set_seed`` makes them reproducible.
    """

    def __init__(self, kinds: str | tuple[str, ...] = "none", noise_std: float = 0.01,
                 scale_std: float = 0.1, max_shift: int = 8, seed: int | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.kinds = parse_augment(kinds if isinstance(kinds, str) else "+".join(kinds))
        self.noise_std, self.scale_std = float(noise_std), float(scale_std)
        self.max_shift, self.seed = int(max_shift), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or not self.kinds:
            return inputs
        x = inputs
        ops = keras.ops
        batch, steps = ops.shape(x)[0], ops.shape(x)[1]
        if "shift" in self.kinds and self.max_shift > 0:
            k = keras.random.randint((batch, 1), -self.max_shift, self.max_shift + 1,
                                     seed=self.seed_generator)
            idx = ops.mod(ops.arange(steps)[None, :] - k, steps)  # out[t] = x[t - k]
            x = ops.take_along_axis(x, ops.expand_dims(idx, -1), axis=1)
        if "scaling" in self.kinds and self.scale_std > 0:
            x = x * keras.random.normal((batch, 1, 1), mean=1.0, stddev=self.scale_std,
                                        dtype=x.dtype, seed=self.seed_generator)
        if "noise" in self.kinds and self.noise_std > 0:
            x = x + keras.random.normal(ops.shape(x), stddev=self.noise_std, dtype=x.dtype,
                                        seed=self.seed_generator)
        return x

    def compute_output_shape(self, input_shape: tuple[int | None, ...]
                             ) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kinds": "+".join(self.kinds) or "none",
                "noise_std": self.noise_std, "scale_std": self.scale_std,
                "max_shift": self.max_shift, "seed": self.seed}
