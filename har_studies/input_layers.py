"""Input layers the studies put inside a model, so a saved model needs no extra state.

Registered under the package "har_utils", where they were first defined: saved models name
them so. Import this module before loading such a model.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

#: Augmentations ``StudyConfig.augment`` may join with "+"; ``rotation`` is :class:`RandomRotation`.
AUGMENTATIONS: tuple[str, ...] = ("noise", "rotation", "scaling", "shift")


def parse_augment(augment: str) -> tuple[str, ...]:
    """``"scaling+noise"`` -> ``("noise", "scaling")``; "none" -> ``()``."""
    names = [] if augment.strip() == "none" else [a.strip() for a in augment.split("+")]
    bad = [a for a in names if a not in AUGMENTATIONS]
    if bad or len(set(names)) != len(names):
        raise ValueError(f"bad augment {augment!r}: use 'none' or names from {AUGMENTATIONS} "
                         "joined by '+', each at most once")
    return tuple(a for a in AUGMENTATIONS if a in names)


def standardization_layer(X: np.ndarray) -> keras.layers.Normalization:
    """A ``Normalization`` with the fixed per-channel mean/variance of windows ``X`` (float64)."""
    X = np.asarray(X)
    if X.ndim != 3 or len(X) == 0:
        raise ValueError(f"need non-empty windows (n, steps, channels), got shape {X.shape}")
    mean = X.mean(axis=(0, 1), dtype=np.float64)
    var = X.var(axis=(0, 1), dtype=np.float64)
    return keras.layers.Normalization(axis=-1, mean=mean.tolist(), variance=var.tolist(),
                                      name="standardize")


@keras.saving.register_keras_serializable(package="har_utils")
class Augment(keras.layers.Layer):
    """Training-only augmentation of windows: circular ``shift``, per-window ``scaling``, then
    ``noise``, in that order; identity at inference."""

    def __init__(self, kinds: str | tuple[str, ...] = "none", noise_std: float = 0.01,
                 scale_std: float = 0.1, max_shift: int = 8, seed: int | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.kinds = parse_augment(kinds if isinstance(kinds, str) else "+".join(kinds))
        if "rotation" in self.kinds:
            raise ValueError("rotation is the RandomRotation layer's, not Augment's")
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


# --- orientation: the phone's frame, the gravity frame, random rotations -------------------

#: Input frames ``StudyConfig.frame`` may name.
FRAMES: tuple[str, ...] = ("sensor", "gravity")


def _check_nine(shape: tuple[int | None, ...], what: str) -> None:
    if shape[-1] != 9:
        raise ValueError(f"{what} needs the nine channels of config.CHANNELS (three 3-axis "
                         f"sensors), got {shape[-1]}")


def _rotate(x: Any, r: Any) -> Any:
    """Rotate each 3-axis sensor of windows ``x`` (batch, steps, 9) by ``r`` (batch, 3, 3)."""
    ops = keras.ops
    batch, steps = ops.shape(x)[0], ops.shape(x)[1]
    v = ops.reshape(x, (batch, steps, 3, 3))  # (batch, steps, sensor, axis)
    out = ops.einsum("bij,btsj->btsi", r, v)
    return ops.reshape(out, (batch, steps, 9))


def rotation_matrices(axis: Any, angle: Any) -> Any:
    """Rodrigues: rotations by ``angle`` (batch,) radians about unit vectors ``axis`` (batch, 3)."""
    ops = keras.ops
    kx, ky, kz = axis[:, 0], axis[:, 1], axis[:, 2]
    zero = ops.zeros_like(kx)
    k = ops.stack([ops.stack([zero, -kz, ky], -1), ops.stack([kz, zero, -kx], -1),
                   ops.stack([-ky, kx, zero], -1)], 1)  # the cross-product matrix [k]x
    s = ops.sin(angle)[:, None, None]
    c = ops.cos(angle)[:, None, None]
    eye = ops.eye(3, dtype=axis.dtype)[None]
    return eye + s * k + (1.0 - c) * ops.matmul(k, k)


@keras.saving.register_keras_serializable(package="har_utils")
class RandomRotation(keras.layers.Layer):
    """Training-only: one random 3-D rotation per window, the same for every sensor (as when
    the phone sits otherwise in the pocket), angle up to ``max_angle`` degrees."""

    def __init__(self, max_angle: float = 30.0, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if not 0 <= float(max_angle) <= 180:
            raise ValueError(f"max_angle must be in [0, 180] degrees, got {max_angle}")
        self.max_angle, self.seed = float(max_angle), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        _check_nine(input_shape, "RandomRotation")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.max_angle == 0:
            return inputs
        ops = keras.ops
        batch = ops.shape(inputs)[0]
        axis = keras.random.normal((batch, 3), dtype=inputs.dtype, seed=self.seed_generator)
        axis = axis / ops.maximum(ops.norm(axis, axis=-1, keepdims=True), 1e-12)
        angle = keras.random.uniform((batch,), 0.0, np.deg2rad(self.max_angle),
                                     dtype=inputs.dtype, seed=self.seed_generator)
        return _rotate(inputs, rotation_matrices(axis, angle))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]
                             ) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_angle": self.max_angle, "seed": self.seed}


@keras.saving.register_keras_serializable(package="har_utils")
class GravityFrame(keras.layers.Layer):
    """Each window turned so its mean total acceleration points along +x, plus the three
    sensors' magnitudes: (steps, 9) -> (steps, 12). The turn about gravity stays as recorded."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        _check_nine(input_shape, "GravityFrame")

    def call(self, inputs: Any) -> Any:
        ops = keras.ops
        g = ops.mean(inputs[:, :, 6:9], axis=1)  # (batch, 3)
        u = g / ops.maximum(ops.norm(g, axis=-1, keepdims=True), 1e-12)
        # the rotation taking u to e_x: axis u x e_x = (0, u_z, -u_y), cos = u_x
        axis = ops.stack([ops.zeros_like(u[:, 0]), u[:, 2], -u[:, 1]], -1)
        sin = ops.norm(axis, axis=-1)
        cos = u[:, 0]
        # about u x e_x (any axis perpendicular to x when u = -e_x: z)
        fallback = ops.broadcast_to(ops.convert_to_tensor([0.0, 0.0, 1.0], dtype=u.dtype),
                                    ops.shape(u))
        axis = ops.where((sin > 1e-6)[:, None], axis / ops.maximum(sin, 1e-12)[:, None],
                         fallback)
        rotated = _rotate(inputs, rotation_matrices(axis, ops.arctan2(sin, cos)))
        v = ops.reshape(inputs, (ops.shape(inputs)[0], ops.shape(inputs)[1], 3, 3))
        return ops.concatenate([rotated, ops.norm(v, axis=-1)], axis=-1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]
                             ) -> tuple[int | None, ...]:
        return (*input_shape[:-1], 12)


#: Per-channel statistics :class:`WindowStats` computes, in this order.
WINDOW_STATS: tuple[str, ...] = ("mean", "std", "min", "max", "mean_abs_diff")


@keras.saving.register_keras_serializable(package="har_utils")
class WindowStats(keras.layers.Layer):
    """Per-channel :data:`WINDOW_STATS` of each window, statistic-major (Ignatov 2018)."""


    def call(self, inputs: Any) -> Any:
        ops = keras.ops
        diff = ops.mean(ops.abs(inputs[:, 1:, :] - inputs[:, :-1, :]), axis=1)
        return ops.concatenate([ops.mean(inputs, axis=1), ops.std(inputs, axis=1),
                                ops.min(inputs, axis=1), ops.max(inputs, axis=1), diff], -1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]
                             ) -> tuple[int | None, ...]:
        return (input_shape[0], len(WINDOW_STATS) * int(input_shape[-1]))
