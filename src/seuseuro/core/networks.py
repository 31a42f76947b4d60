"""Networks as plain Equinox modules, with the initialization PPO implementations rely on.

Orthogonal weights with gain sqrt(2) on hidden layers, 0.01 on the policy head and 1.0 on the
value head, zero biases ("37 implementation details of PPO", detail 2; Andrychowicz et al. 2021
found the small policy-head gain among the choices that matter most).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

Activation = Literal["tanh", "relu", "gelu", "silu"]
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
}
HIDDEN_GAIN = math.sqrt(2.0)


def numpy_rng(key: jax.Array) -> np.random.Generator:
    """A numpy generator determined by the bits of a (concrete) JAX key."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key, dtype=np.uint32).ravel())


def split_key(key: jax.Array, num: int) -> jax.Array:
    """``jax.random.split`` under ``jit``; on the host, child keys drawn from the key's bits in numpy
    (no XLA compilation just to build a network)."""
    if isinstance(key, jax.core.Tracer):
        return jax.random.split(key, num)
    return jnp.asarray(numpy_rng(key).integers(0, 2**32, size=(num, 2), dtype=np.uint32))


def orthogonal_matrix(key: jax.Array, shape: tuple[int, int], gain: float = 1.0) -> jax.Array:
    """A random (semi-)orthogonal ``shape`` matrix times ``gain`` (Saxe et al. 2014).

    With a concrete key (networks built on the host, the usual case) the QR runs in numpy:
    XLA's QR costs ~0.5-1 s of compilation per layer shape on a CPU, ~5 s for a PPO actor-critic,
    longer than training CartPole (measured in BENCHMARKS.md). Under ``jit`` the same construction
    runs in JAX. Either way the distribution is Haar: QR of a Gaussian matrix with the signs of R's
    diagonal folded into Q (Mezzadri 2007), as ``jax.nn.initializers.orthogonal`` does.
    """
    if isinstance(key, jax.core.Tracer):
        return jax.nn.initializers.orthogonal(scale=gain)(key, shape, jnp.float32)
    rows, cols = shape
    gaussian = numpy_rng(key).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(gaussian)
    q = q * np.sign(np.diag(r))
    return jnp.asarray(gain * (q if rows >= cols else q.T), jnp.float32)


class Dense(eqx.Module):
    """``x @ weight.T + bias`` for one input vector or a batch ``(..., in)``, like eqx.nn.Linear.

    Written as ``x @ weight.T`` rather than ``weight @ x``: under ``jax.vmap`` over a batch and
    again over seeds, ``weight @ x`` lowers to a dot whose layout XLA:CPU runs 3.4x slower (PPO's
    gradient step on 8,192 samples: 16.0 ms vs 4.7 ms; whole CartPole training 25-75% slower, even
    with one seed). Measured in BENCHMARKS.md, "Deep RL", run 6.
    """

    weight: jax.Array  # (out, in)
    bias: jax.Array  # (out,)

    def __call__(self, x: jax.Array) -> jax.Array:
        return x @ self.weight.T + self.bias


def orthogonal_linear(key: jax.Array, in_size: int, out_size: int, gain: float) -> Dense:
    """A dense layer with orthogonal weights scaled by ``gain`` and zero bias."""
    return Dense(orthogonal_matrix(key, (out_size, in_size), gain), jnp.zeros((out_size,), jnp.float32))


class MLP(eqx.Module):
    """Fully connected network; hidden layers get gain sqrt(2), the output layer ``out_gain``."""

    layers: tuple[Dense, ...]
    activation: Activation = eqx.field(static=True)

    def __init__(
        self,
        key: jax.Array,
        in_size: int,
        out_size: int,
        hidden: Sequence[int] = (64, 64),
        activation: Activation = "tanh",
        out_gain: float = 1.0,
    ):
        sizes = [in_size, *hidden, out_size]
        keys = split_key(key, len(sizes) - 1)
        gains = [HIDDEN_GAIN] * len(hidden) + [out_gain]
        self.layers = tuple(
            orthogonal_linear(k, a, b, g) for k, a, b, g in zip(keys, sizes[:-1], sizes[1:], gains, strict=True)
        )
        self.activation = activation

    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        for layer in self.layers[:-1]:
            x = act(layer(x))
        return self.layers[-1](x)


class Flatten(eqx.Module):
    """Default torso: flatten an observation of any shape to a vector."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.reshape(x, (-1,)).astype(jnp.float32)


class ConvTorso(eqx.Module):
    """Convolutions with ReLU over one ``(height, width, channels)`` image, flattened.

    The default, one layer of 16 3x3 filters with stride 1 and no padding, is the network of the
    MinAtar paper (Young & Tian 2019), which then applies a dense layer of 128 units
    (``--hidden-sizes 128``). Kernels are orthogonal over their flattened (in x 3 x 3) fan-in with
    gain sqrt(2), as CleanRL initializes its Atari convolutions.
    """

    kernels: tuple[jax.Array, ...]  # (out, in, k, k)
    biases: tuple[jax.Array, ...]  # (out,)

    def __init__(self, key: jax.Array, in_channels: int, channels: Sequence[int] = (16,), kernel_size: int = 3):
        keys = split_key(key, len(channels))
        ins = [in_channels, *channels[:-1]]
        k = kernel_size
        self.kernels = tuple(
            orthogonal_matrix(kk, (o, i * k * k), HIDDEN_GAIN).reshape(o, i, k, k)
            for kk, i, o in zip(keys, ins, channels, strict=True)
        )
        self.biases = tuple(jnp.zeros((o,), jnp.float32) for o in channels)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.astype(jnp.float32)  # (H, W, C)
        for kernel, bias in zip(self.kernels, self.biases, strict=True):
            # im2col: the k*k shifted views side by side, then one matmul. Under vmap (over a batch,
            # then over seeds) XLA:CPU ran PPO with lax.conv_general_dilated 5.6x slower than this
            # (Breakout-MinAtar, 64 envs: 1.7k vs 9.3k steps/s; flattened frames + MLP: 60k).
            out_c, in_c, k, _ = kernel.shape
            h, w = x.shape[0] - k + 1, x.shape[1] - k + 1
            patches = jnp.concatenate([x[i : i + h, j : j + w] for i in range(k) for j in range(k)], axis=-1)
            weight = kernel.transpose(2, 3, 1, 0).reshape(k * k * in_c, out_c)  # rows ordered (i, j, c)
            x = jax.nn.relu(patches @ weight + bias)
        return x.reshape(-1)


def conv_torso(obs_shape: Sequence[int], channels: Sequence[int] = (16,)):
    """A ``torso_factory`` (key -> (ConvTorso, feature size)) for image observations ``(H, W, C)``."""
    height, width, in_channels = obs_shape
    features = (height - 2 * len(channels)) * (width - 2 * len(channels)) * channels[-1]

    def factory(key: jax.Array) -> tuple[ConvTorso, int]:
        return ConvTorso(key, in_channels, channels), features

    return factory
