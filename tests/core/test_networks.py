"""Orthogonal initialization (host path and traced path) and the MLP built from it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.core.networks import MLP, orthogonal_matrix, split_key


@pytest.mark.parametrize("shape", [(64, 64), (64, 4), (2, 64)])
def test_orthogonal_on_the_host_and_under_jit(shape):
    host = np.asarray(orthogonal_matrix(jax.random.PRNGKey(0), shape, gain=2.0))
    traced = np.asarray(jax.jit(lambda k: orthogonal_matrix(k, shape, gain=2.0))(jax.random.PRNGKey(0)))
    for w in (host, traced):
        assert w.shape == shape
        small = w if shape[0] <= shape[1] else w.T  # rows orthonormal up to the gain
        np.testing.assert_allclose(small @ small.T / 4.0, np.eye(min(shape)), atol=1e-5)


def test_host_init_is_determined_by_the_key():
    a = orthogonal_matrix(jax.random.PRNGKey(3), (8, 8))
    b = orthogonal_matrix(jax.random.PRNGKey(3), (8, 8))
    c = orthogonal_matrix(jax.random.PRNGKey(4), (8, 8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    keys = split_key(jax.random.PRNGKey(3), 3)
    assert keys.shape == (3, 2) and len({tuple(k) for k in np.asarray(keys).tolist()}) == 3


def test_mlp_gains_and_zero_biases():
    mlp = MLP(jax.random.PRNGKey(0), 4, 2, hidden=(64, 64), out_gain=0.01)
    assert all(float(jnp.abs(layer.bias).max()) == 0.0 for layer in mlp.layers)
    head = np.asarray(mlp.layers[-1].weight)  # (2, 64): rows orthonormal times 0.01
    np.testing.assert_allclose(head @ head.T, 1e-4 * np.eye(2), atol=1e-9)
    assert mlp(jnp.ones(4)).shape == (2,)


def test_conv_torso_by_hand_and_its_feature_size():
    import equinox as eqx

    from seuseuro.core.networks import ConvTorso, conv_torso

    torso = ConvTorso(jax.random.PRNGKey(0), in_channels=1, channels=(1,))
    torso = eqx.tree_at(lambda t: (t.kernels, t.biases), torso, ((jnp.ones((1, 1, 3, 3)),), (jnp.array([-40.0]),)))
    image = jnp.arange(16.0).reshape(4, 4, 1)  # 3x3 windows at the 4 valid positions sum to 45, 54, 81, 90
    np.testing.assert_allclose(torso(image), [5.0, 14.0, 41.0, 50.0])  # minus the bias 40, ReLU
    factory = conv_torso((10, 10, 4), (16,))  # MinAtar: 10x10 frames
    module, features = factory(jax.random.PRNGKey(1))
    assert features == 8 * 8 * 16 == module(jnp.zeros((10, 10, 4))).shape[0]
    kernel = np.asarray(module.kernels[0]).reshape(16, -1)  # orthogonal rows over the fan-in, gain sqrt(2)
    np.testing.assert_allclose(kernel @ kernel.T, 2.0 * np.eye(16), atol=1e-5)


def test_conv_torso_equals_lax_convolution():
    """The im2col convolution against XLA's own (several channels, two layers).

    At "highest" matmul precision: a GPU's default float32 matmuls and convolutions run in TF32
    (10-bit mantissa), and its matmul and convolution kernels round differently (issue 9: this test
    failed on an H200 at atol 1e-5 under the default precision)."""
    from seuseuro.core.networks import ConvTorso

    torso = ConvTorso(jax.random.PRNGKey(0), 3, (5, 4))
    x = jax.random.normal(jax.random.PRNGKey(1), (9, 8, 3))
    y = x[None]
    with jax.default_matmul_precision("highest"):
        for kernel, bias in zip(torso.kernels, torso.biases, strict=True):
            y = jax.lax.conv_general_dilated(
                y, kernel, (1, 1), "VALID", dimension_numbers=("NHWC", "OIHW", "NHWC"), precision="highest"
            )
            y = jax.nn.relu(y + bias)
        out = torso(x)
    np.testing.assert_allclose(out, y.reshape(-1), atol=1e-5)
