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

Activation = Literal["tanh", "relu", "gelu", "silu"]
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
}
HIDDEN_GAIN = math.sqrt(2.0)


def orthogonal_linear(key: jax.Array, in_size: int, out_size: int, gain: float) -> eqx.nn.Linear:
    """A Linear layer with orthogonal weights scaled by ``gain`` and zero bias."""
    init_key, weight_key = jax.random.split(key)
    layer = eqx.nn.Linear(in_size, out_size, key=init_key)
    weight = jax.nn.initializers.orthogonal(scale=gain)(weight_key, (out_size, in_size), jnp.float32)
    layer = eqx.tree_at(lambda m: m.weight, layer, weight)
    return eqx.tree_at(lambda m: m.bias, layer, jnp.zeros((out_size,), jnp.float32))


class MLP(eqx.Module):
    """Fully connected network; hidden layers get gain sqrt(2), the output layer ``out_gain``."""

    layers: tuple[eqx.nn.Linear, ...]
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
        keys = jax.random.split(key, len(sizes) - 1)
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
