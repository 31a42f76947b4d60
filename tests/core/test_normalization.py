import jax.numpy as jnp
import numpy as np

from seuseuro.core.normalization import init_running_stats, normalize, update_running_stats


def test_parallel_update_equals_moments_of_all_data():
    rng = np.random.default_rng(0)
    a, b = rng.normal(3, 2, (50, 2)), rng.normal(-1, 0.5, (30, 2))
    stats = update_running_stats(update_running_stats(init_running_stats((2,)), jnp.asarray(a)), jnp.asarray(b))
    both = np.concatenate([a, b])
    np.testing.assert_allclose(stats.mean, both.mean(0), rtol=1e-4)
    np.testing.assert_allclose(stats.var, both.var(0), rtol=1e-3)
    assert float(stats.count) == np.float32(80 + 1e-4)


def test_normalize_clips():
    stats = init_running_stats(())._replace(mean=jnp.asarray(1.0), var=jnp.asarray(4.0))
    np.testing.assert_allclose(normalize(stats, jnp.array([3.0, 1e6]), clip=5.0), [1.0, 5.0], rtol=1e-6)
